//! The HTTP API, served by every node.
//!
//! | request | answer |
//! | --- | --- |
//! | `PUT /kv/{key}`, body = value | 204 once the write is committed and applied |
//! | `GET /kv/{key}` | 200 with the value, or 404; linearizable (`read_index`) |
//! | `DELETE /kv/{key}` | 204 once applied |
//! | `GET /status` | 200, JSON: id, role, leader, term, commit, applied, voters, learners, keys |
//! | `POST /members/{id}`, body = raft address | 204 once the voter is added |
//! | `DELETE /members/{id}` | 204 once the member is removed |
//!
//! Errors carry a one-line reason: 400 bad input, 404 missing key, 503 no
//! leader yet (or the node is stopping, or raft refused the proposal), 504
//! no answer within `--request-timeout-ms` (a write may still take effect).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

use crate::node::{ApiError, Reply, Request};

#[derive(Clone)]
struct Api {
    requests: mpsc::Sender<Request>,
    timeout: Duration,
}

/// The routes, sending work to the raft loop through `requests` and waiting
/// at most `timeout` for each answer.
pub fn router(requests: mpsc::Sender<Request>, timeout: Duration) -> Router {
    Router::new()
        .route("/kv/{key}", get(get_key).put(put_key).delete(delete_key))
        .route("/status", get(status))
        .route("/members/{id}", post(add_member).delete(remove_member))
        .with_state(Api { requests, timeout })
}

fn error_response(error: ApiError) -> Response {
    let (status, reason) = match error {
        ApiError::NoLeader => (StatusCode::SERVICE_UNAVAILABLE, "no leader yet".to_owned()),
        ApiError::Refused(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
        ApiError::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "timed out; a write may still take effect".to_owned(),
        ),
        ApiError::BadRequest(reason) => (StatusCode::BAD_REQUEST, reason),
        ApiError::ShuttingDown => (
            StatusCode::SERVICE_UNAVAILABLE,
            "node is shutting down".to_owned(),
        ),
    };
    (status, format!("{reason}\n")).into_response()
}

async fn call<T>(api: &Api, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, ApiError> {
    let (reply, answer) = oneshot::channel();
    let work = async {
        api.requests
            .send(request(reply))
            .await
            .map_err(|_| ApiError::ShuttingDown)?;
        answer.await.map_err(|_| ApiError::ShuttingDown)?
    };
    tokio::time::timeout(api.timeout, work)
        .await
        .unwrap_or(Err(ApiError::Timeout))
}

fn done(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error_response(error),
    }
}

async fn put_key(State(api): State<Api>, Path(key): Path<String>, value: Bytes) -> Response {
    let key = key.into_bytes();
    let value = value.to_vec();
    done(call(&api, |reply| Request::Put { key, value, reply }).await)
}

async fn delete_key(State(api): State<Api>, Path(key): Path<String>) -> Response {
    let key = key.into_bytes();
    done(call(&api, |reply| Request::Delete { key, reply }).await)
}

async fn get_key(State(api): State<Api>, Path(key): Path<String>) -> Response {
    let key = key.into_bytes();
    match call(&api, |reply| Request::Get { key, reply }).await {
        Ok(Some(value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            value,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such key\n").into_response(),
        Err(error) => error_response(error),
    }
}

async fn status(State(api): State<Api>) -> Response {
    let (reply, answer) = oneshot::channel();
    let work = async {
        api.requests.send(Request::Status { reply }).await.ok()?;
        answer.await.ok()
    };
    match tokio::time::timeout(api.timeout, work).await {
        Ok(Some(report)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&report).expect("a status report encodes as JSON") + "\n",
        )
            .into_response(),
        Ok(None) => error_response(ApiError::ShuttingDown),
        Err(_) => error_response(ApiError::Timeout),
    }
}

fn member_id(id: &str) -> Result<u64, ApiError> {
    match id.parse::<u64>() {
        Ok(0) | Err(_) => Err(ApiError::BadRequest(format!(
            "member id must be a positive integer, got {id:?}"
        ))),
        Ok(id) => Ok(id),
    }
}

async fn add_member(State(api): State<Api>, Path(id): Path<String>, body: Bytes) -> Response {
    let id = match member_id(&id) {
        Ok(id) => id,
        Err(error) => return error_response(error),
    };
    let address = match std::str::from_utf8(&body)
        .ok()
        .map(str::trim)
        .and_then(|text| text.parse::<SocketAddr>().ok())
    {
        Some(address) => address.to_string(),
        None => {
            return error_response(ApiError::BadRequest(
                "body must be the new node's raft address as HOST:PORT".to_owned(),
            ))
        }
    };
    done(call(&api, |reply| Request::AddMember { id, address, reply }).await)
}

async fn remove_member(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let id = match member_id(&id) {
        Ok(id) => id,
        Err(error) => return error_response(error),
    };
    done(call(&api, |reply| Request::RemoveMember { id, reply }).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Client, Response};
    use crate::node::StatusReport;

    /// Serves the router with a stand-in raft loop that answers each request
    /// with `answer`, and runs `requests` against it from a client thread.
    async fn exchange(
        timeout: Duration,
        answer: fn(Request),
        requests: Vec<(&'static str, &'static str, &'static [u8])>,
    ) -> Vec<Response> {
        let (sender, mut receiver) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(request) = receiver.recv().await {
                answer(request);
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(sender, timeout)).await });
        tokio::task::spawn_blocking(move || {
            let mut client = Client::new(address, Duration::from_secs(10));
            requests
                .into_iter()
                .map(|(method, path, body)| client.request(method, path, body).unwrap())
                .collect()
        })
        .await
        .unwrap()
    }

    fn summary(responses: &[Response]) -> Vec<(u16, String)> {
        responses.iter().map(|r| (r.status, r.text())).collect()
    }

    #[tokio::test]
    async fn answers_map_to_statuses() {
        fn answer(request: Request) {
            match request {
                Request::Put { key, value, reply } => {
                    assert_eq!((key, value), (b"a".to_vec(), b"1".to_vec()));
                    let _ = reply.send(Ok(()));
                }
                Request::Get { key, reply } => {
                    let _ = reply.send(Ok((key == b"a").then(|| b"1".to_vec())));
                }
                Request::Delete { reply, .. } => {
                    let _ = reply.send(Err(ApiError::NoLeader));
                }
                Request::AddMember { id, address, reply } => {
                    assert_eq!((id, address.as_str()), (4, "127.0.0.1:7004"));
                    let _ = reply.send(Ok(()));
                }
                Request::RemoveMember { reply, .. } => {
                    let _ = reply.send(Err(ApiError::BadRequest("node 9 is not a member".into())));
                }
                Request::Status { reply } => {
                    let _ = reply.send(StatusReport {
                        id: 1,
                        role: "leader",
                        leader: 1,
                        term: 3,
                        commit: 10,
                        applied: 9,
                        voters: vec![1, 2, 3],
                        learners: vec![],
                        keys: 1,
                    });
                }
            }
        }
        let responses = exchange(
            Duration::from_secs(5),
            answer,
            vec![
                ("PUT", "/kv/a", b"1"),
                ("GET", "/kv/a", b""),
                ("GET", "/kv/b", b""),
                ("DELETE", "/kv/a", b""),
                ("POST", "/members/4", b"127.0.0.1:7004\n"),
                ("DELETE", "/members/9", b""),
                ("GET", "/status", b""),
            ],
        )
        .await;
        let summary = summary(&responses);
        assert_eq!(summary[0], (204, String::new()));
        assert_eq!(summary[1], (200, "1".to_owned()));
        assert_eq!(summary[2], (404, "no such key\n".to_owned()));
        assert_eq!(summary[3], (503, "no leader yet\n".to_owned()));
        assert_eq!(summary[4], (204, String::new()));
        assert_eq!(summary[5], (400, "node 9 is not a member\n".to_owned()));
        let status: serde_json::Value = serde_json::from_slice(&responses[6].body).unwrap();
        assert_eq!(status["role"], "leader");
        assert_eq!(status["voters"], serde_json::json!([1, 2, 3]));
        assert_eq!(status["applied"], 9);
    }

    #[tokio::test]
    async fn bad_member_requests_are_refused_before_reaching_raft() {
        fn answer(request: Request) {
            panic!("a malformed request reached the raft loop: {request:?}");
        }
        let responses = exchange(
            Duration::from_secs(5),
            answer,
            vec![
                ("POST", "/members/4", b"not an address"),
                ("POST", "/members/0", b"127.0.0.1:1"),
                ("DELETE", "/members/x", b""),
            ],
        )
        .await;
        for response in &responses {
            assert_eq!(response.status, 400, "{}", response.text());
            assert!(response.text().ends_with('\n') && response.text().lines().count() == 1);
        }
    }

    #[tokio::test]
    async fn an_unanswered_request_times_out_with_504_and_a_dropped_one_is_503() {
        fn answer(request: Request) {
            match request {
                // Kept unanswered (leaked) until the handler gives up.
                Request::Put { reply, .. } => std::mem::forget(reply),
                // Dropped unanswered, as the loop does when it stops.
                other => drop(other),
            }
        }
        let responses = exchange(
            Duration::from_millis(200),
            answer,
            vec![("PUT", "/kv/a", b"1"), ("GET", "/kv/a", b"")],
        )
        .await;
        assert_eq!(
            summary(&responses),
            vec![
                (504, "timed out; a write may still take effect\n".to_owned()),
                (503, "node is shutting down\n".to_owned()),
            ]
        );
    }
}
