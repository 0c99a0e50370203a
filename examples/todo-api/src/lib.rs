//! A todo list's backend, behind the API gateway's routes and over one key-value store:
//!
//!   GET    /api/todos        the list, oldest first
//!   POST   /api/todos        {"title": "...", "done": false} → 201 with the new todo
//!   GET    /api/todos/{id}
//!   PUT    /api/todos/{id}   {"title": "...", "done": true}
//!   DELETE /api/todos/{id}
//!
//! Deploy with `--kv todos` and add the routes (scripts/demo does both). Bad input gets a
//! 400 with a JSON error that says what was wrong.

use gust_sdk::kv::{KvError, Store};
use gust_sdk::{Request, Response};
use serde::{Deserialize, Serialize};

const STORE: &str = "todos";
const MAX_TITLE: usize = 200;

#[derive(Serialize, Deserialize)]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

/// What a client sends to create or replace a todo.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TodoInput {
    title: String,
    #[serde(default)]
    done: bool,
}

fn handle(req: Request) -> Response {
    let answer = match Store::open(STORE) {
        Ok(todos) => route(&req, &todos),
        Err(e) => Err(store_failed(e)),
    };
    answer.unwrap_or_else(|response| response)
}

fn route(req: &Request, todos: &Store) -> Result<Response, Response> {
    let id = id_of(req);
    match (req.method.as_str(), id) {
        ("GET", None) => list(todos),
        ("POST", None) => create(req, todos),
        ("GET", Some(id)) => get(todos, id?),
        ("PUT", Some(id)) => replace(req, todos, id?),
        ("DELETE", Some(id)) => delete(todos, id?),
        (method, _) => Err(error(405, &format!("{method} is not served here"))),
    }
}

/// The todo a request is about: the route's `{id}`, or the path's last segment after
/// `/api/todos/` when called without a route.
fn id_of(req: &Request) -> Option<Result<u64, Response>> {
    let text = match req.param("id") {
        Some(id) => id.to_string(),
        None => {
            let rest = req.path().trim_end_matches('/');
            rest.strip_prefix("/api/todos/")?.to_string()
        }
    };
    Some(
        text.parse::<u64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| error(400, &format!("`{text}` is not a todo id: ids are 1, 2, ..."))),
    )
}

fn key(id: u64) -> String {
    // Padded, so that keys sort as ids do.
    format!("todo:{id:012}")
}

fn list(todos: &Store) -> Result<Response, Response> {
    let keys: Vec<String> = todos
        .keys()
        .map_err(store_failed)?
        .into_iter()
        .filter(|k| k.starts_with("todo:"))
        .collect();
    let mut list: Vec<Todo> = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        for value in todos.get_many(chunk).map_err(store_failed)?.into_iter().flatten() {
            if let Ok(todo) = serde_json::from_slice(&value) {
                list.push(todo);
            }
        }
    }
    Ok(Response::json(&list))
}

fn get(todos: &Store, id: u64) -> Result<Response, Response> {
    match todos.get_json::<Todo>(&key(id)).map_err(store_failed)? {
        Some(todo) => Ok(Response::json(&todo)),
        None => Err(not_found(id)),
    }
}

fn create(req: &Request, todos: &Store) -> Result<Response, Response> {
    let input = input_of(req)?;
    let id = todos.increment("next-id", 1).map_err(store_failed)? as u64;
    let todo = Todo {
        id,
        title: input.title,
        done: input.done,
    };
    todos.set_json(&key(id), &todo).map_err(store_failed)?;
    Ok(Response::json(&todo)
        .with_status(201)
        .with_header("location", format!("/api/todos/{id}")))
}

fn replace(req: &Request, todos: &Store, id: u64) -> Result<Response, Response> {
    let input = input_of(req)?;
    if !todos.exists(&key(id)).map_err(store_failed)? {
        return Err(not_found(id));
    }
    let todo = Todo {
        id,
        title: input.title,
        done: input.done,
    };
    todos.set_json(&key(id), &todo).map_err(store_failed)?;
    Ok(Response::json(&todo))
}

fn delete(todos: &Store, id: u64) -> Result<Response, Response> {
    if !todos.exists(&key(id)).map_err(store_failed)? {
        return Err(not_found(id));
    }
    todos.delete(&key(id)).map_err(store_failed)?;
    Ok(Response::new(204))
}

/// A todo as sent, checked: JSON with a title of 1 to 200 characters, and nothing unknown.
fn input_of(req: &Request) -> Result<TodoInput, Response> {
    let input: TodoInput = serde_json::from_slice(&req.body)
        .map_err(|e| error(400, &format!("the body must be a todo as JSON: {e}")))?;
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        let message = format!("a title holds 1 to {MAX_TITLE} characters");
        return Err(error(400, &message));
    }
    Ok(TodoInput {
        title: title.to_string(),
        done: input.done,
    })
}

fn error(status: u16, message: &str) -> Response {
    let code = match status {
        400 => "invalid_input",
        404 => "not_found",
        405 => "method_not_allowed",
        _ => "internal",
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    Response::json(&body).with_status(status)
}

fn not_found(id: u64) -> Response {
    error(404, &format!("no todo {id}"))
}

fn store_failed(e: KvError) -> Response {
    error(500, &format!("the todo store failed: {e}"))
}

gust_sdk::export_handler!(handle);
