//! The routes compiled for matching: per host (or any host), a `matchit` tree of path
//! templates, each with its routes by method. Built whole from the list of routes, so that a
//! change is checked in full before it takes effect, and swapped in at once.

use std::collections::HashMap;

use gust_core::{Error, ErrorKind, Route};
use matchit::InsertError;

#[derive(Default)]
pub struct RouteTable {
    /// `None` holds the routes of any host.
    by_host: HashMap<Option<String>, HostRoutes>,
}

#[derive(Default)]
struct HostRoutes {
    templates: matchit::Router<usize>,
    paths: Vec<PathRoutes>,
}

/// The routes of one path template.
struct PathRoutes {
    template: String,
    routes: Vec<Route>,
}

/// A template's parameters, by name, as a request filled them.
pub type Params = Vec<(String, String)>;

/// What a request finds.
pub enum Found<'a> {
    Route {
        route: &'a Route,
        params: Params,
    },
    /// The path is routed, for other methods.
    WrongMethod {
        allow: Vec<String>,
    },
    Nothing,
}

impl RouteTable {
    /// The table of `routes`, or why one of them cannot be in it: a template `matchit`
    /// refuses (invalid), or a route that takes what another one has (conflict).
    pub fn build(routes: &[Route]) -> Result<RouteTable, Error> {
        let mut table = RouteTable::default();
        for route in routes {
            table.add(route.clone())?;
        }
        Ok(table)
    }

    fn add(&mut self, route: Route) -> Result<(), Error> {
        let host = self.by_host.entry(route.host.clone()).or_default();
        if let Some(path) = host.paths.iter_mut().find(|p| p.template == route.path) {
            let overlapping = |other: &Route| {
                other.method == route.method || other.method == "ANY" || route.method == "ANY"
            };
            if let Some(other) = path.routes.iter().find(|other| overlapping(other)) {
                return Err(conflict(&route, other));
            }
            path.routes.push(route);
            return Ok(());
        }
        match host.templates.insert(route.path.clone(), host.paths.len()) {
            Ok(()) => {
                host.paths.push(PathRoutes {
                    template: route.path.clone(),
                    routes: vec![route],
                });
                Ok(())
            }
            Err(InsertError::Conflict { with }) => {
                let other = host.paths.iter().find(|p| p.template == with);
                match other.and_then(|p| p.routes.first()) {
                    Some(other) => Err(conflict(&route, other)),
                    None => Err(Error::new(
                        ErrorKind::Conflict,
                        format!("`{}` conflicts with the route of `{with}`", route.path),
                    )),
                }
            }
            Err(e) => Err(Error::invalid(format!(
                "invalid path template `{}`: {e}",
                route.path
            ))),
        }
    }

    /// Whether any route is for one host only (else a request's host need not be read).
    pub fn has_hosts(&self) -> bool {
        self.by_host.keys().any(Option::is_some)
    }

    /// The route for a request: the host's own routes first, then those of any host.
    pub fn find(&self, host: Option<&str>, method: &str, path: &str) -> Found<'_> {
        let Some((routes, params)) = self.path(host, path) else {
            return Found::Nothing;
        };
        let serves = |route: &&Route| {
            route.method == method
                || route.method == "ANY"
                || (method == "HEAD" && route.method == "GET")
        };
        match routes.iter().find(serves) {
            Some(route) => Found::Route { route, params },
            None => Found::WrongMethod {
                allow: routes.iter().map(|r| r.method.clone()).collect(),
            },
        }
    }

    /// The routes of the template a path matches, with its parameters.
    pub fn path(&self, host: Option<&str>, path: &str) -> Option<(&[Route], Params)> {
        let keys = [host.map(str::to_string), None];
        let tried = if host.is_some() {
            &keys[..]
        } else {
            &keys[1..]
        };
        tried.iter().find_map(|key| {
            let host = self.by_host.get(key)?;
            let matched = host.templates.at(path).ok()?;
            let params = matched
                .params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            Some((host.paths[*matched.value].routes.as_slice(), params))
        })
    }
}

fn conflict(route: &Route, other: &Route) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "`{}` conflicts with route {} ({})",
            route.spec(),
            other.id,
            other.spec()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: &str, method: &str, path: &str, host: Option<&str>) -> Route {
        Route {
            id: id.into(),
            method: method.into(),
            path: path.into(),
            host: host.map(String::from),
            function: format!("fn-{id}"),
            cors_origins: Vec::new(),
            created_at_ms: 0,
        }
    }

    fn found(table: &RouteTable, host: Option<&str>, method: &str, path: &str) -> String {
        match table.find(host, method, path) {
            Found::Route { route, params } => format!("{} {params:?}", route.id),
            Found::WrongMethod { allow } => format!("405 {allow:?}"),
            Found::Nothing => "404".into(),
        }
    }

    #[test]
    fn requests_find_their_route_by_method_path_and_host() {
        let table = RouteTable::build(&[
            route("list", "GET", "/api/todos", None),
            route("one", "GET", "/api/todos/{id}", None),
            route("put", "PUT", "/api/todos/{id}", None),
            route("files", "ANY", "/files/{*rest}", None),
            route("mine", "GET", "/api/todos", Some("api.example.com")),
        ])
        .unwrap();
        assert_eq!(found(&table, None, "GET", "/api/todos"), "list []");
        assert_eq!(
            found(&table, Some("api.example.com"), "GET", "/api/todos"),
            "mine []"
        );
        assert_eq!(
            found(&table, Some("other.com"), "GET", "/api/todos"),
            "list []"
        );
        assert_eq!(
            found(&table, None, "PUT", "/api/todos/7"),
            "put [(\"id\", \"7\")]"
        );
        assert_eq!(
            found(&table, None, "HEAD", "/api/todos/7"),
            "one [(\"id\", \"7\")]"
        );
        assert_eq!(
            found(&table, None, "DELETE", "/api/todos/7"),
            "405 [\"GET\", \"PUT\"]"
        );
        assert_eq!(
            found(&table, None, "POST", "/files/a/b.txt"),
            "files [(\"rest\", \"a/b.txt\")]"
        );
        assert_eq!(found(&table, None, "GET", "/nowhere"), "404");
    }

    #[test]
    fn a_route_that_takes_what_another_has_is_a_conflict_naming_it() {
        let taken = [route("one", "GET", "/api/todos/{id}", None)];
        for (method, path) in [
            ("GET", "/api/todos/{id}"),
            ("ANY", "/api/todos/{id}"),
            ("GET", "/api/todos/{name}"),
        ] {
            let mut routes = taken.to_vec();
            routes.push(route("new", method, path, None));
            let error = RouteTable::build(&routes).err().unwrap();
            assert_eq!(error.kind, ErrorKind::Conflict, "{method} {path}");
            assert!(
                error.message.contains("route one (GET /api/todos/{id})"),
                "{}",
                error.message
            );
        }
        let mut routes = taken.to_vec();
        routes.push(route("bad", "GET", "/a/{x", None));
        assert_eq!(
            RouteTable::build(&routes).err().unwrap().kind,
            ErrorKind::InvalidInput
        );
    }
}
