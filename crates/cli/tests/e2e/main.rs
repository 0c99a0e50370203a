//! End-to-end tests: each starts the real `gust` binary on a free port with a temporary data
//! directory and uses it as a user would, over HTTP and through the CLI.

mod harness;

mod aliases;
mod async_queue;
mod aws_cli;
mod broker;
mod buckets;
mod callbacks;
mod cluster;
mod connections;
mod dashboard;
mod deploy_errors;
mod destinations;
mod guest_headers;
mod inspect;
mod invoke;
mod iot;
mod kafka_triggers;
mod kv;
mod lifecycle;
mod limits;
mod logs;
mod management;
mod metering;
mod mqtt_triggers;
mod nats_triggers;
mod process;
mod projects;
mod redis_streams;
mod routes;
mod scaling;
mod schedules;
mod secrets;
mod subject_log;
mod tcp_sockets;
mod thumbnails;
mod todo_api;
mod tokens;
mod traces;
mod walls;
mod webhooks;
