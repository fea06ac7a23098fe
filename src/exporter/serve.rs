//! The exporter's HTTP face: `GET /metrics` and `GET /healthz`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::{CONTENT_TYPE, Shared, exposition};

/// The routes, reading the fleet the caller keeps feeding.
pub fn router(fleet: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(fleet)
}

/// Serves [`router`] on `listener` until the task is dropped or the listener fails.
pub async fn serve(listener: TcpListener, fleet: Shared) -> std::io::Result<()> {
    axum::serve(listener, router(fleet)).await
}

async fn metrics(State(fleet): State<Shared>) -> Response {
    // Diagnosing every agent is CPU work under the fleet's lock: keep it off the async workers.
    match tokio::task::spawn_blocking(move || exposition(&fleet)).await {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Ok(Err(_)) | Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the exposition could not be written\n",
        )
            .into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}
