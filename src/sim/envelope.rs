//! Error answers in the `SignalDock` envelope, with the codes and categories of
//! `signaldock_protocol::error`: `{"success":false,"error":{"code","message","category","retryable","retry_after_ms"?}}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The `ErrorCode`s the simulator answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Code {
    AuthUnauthorized,
    NotFoundResource,
    ValidationSchema,
    ValidationMissingField,
    InternalService,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::AuthUnauthorized => "E_AUTH_UNAUTHORIZED",
            Code::NotFoundResource => "E_NOT_FOUND_RESOURCE",
            Code::ValidationSchema => "E_VALIDATION_SCHEMA",
            Code::ValidationMissingField => "E_VALIDATION_MISSING_FIELD",
            Code::InternalService => "E_INTERNAL_SERVICE",
        }
    }

    /// The code's `ErrorCategory` and the status that category maps to.
    fn category(self) -> (&'static str, StatusCode) {
        match self {
            Code::AuthUnauthorized => ("AUTH", StatusCode::UNAUTHORIZED),
            Code::NotFoundResource => ("NOT_FOUND", StatusCode::NOT_FOUND),
            Code::ValidationSchema | Code::ValidationMissingField => {
                ("VALIDATION", StatusCode::BAD_REQUEST)
            }
            Code::InternalService => ("INTERNAL", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    fn retryable(self) -> bool {
        self == Code::InternalService
    }
}

/// One error answer: the category's status unless a scenario says otherwise.
#[derive(Debug, Clone)]
pub(super) struct ApiError {
    status: StatusCode,
    code: Code,
    message: &'static str,
    retry_after_s: Option<u64>,
}

impl ApiError {
    pub(super) fn new(code: Code, message: &'static str) -> ApiError {
        ApiError {
            status: code.category().1,
            code,
            message,
            retry_after_s: None,
        }
    }

    pub(super) fn unauthorized() -> ApiError {
        ApiError::new(Code::AuthUnauthorized, "invalid API key or agent id")
    }

    /// The `rejected` scenario's answer to a well-authenticated request.
    pub(super) fn rejected() -> ApiError {
        ApiError::new(Code::ValidationSchema, "request rejected by validation")
    }

    /// A gateway's status (502, 503) for an internal error.
    pub(super) fn with_status(self, status: StatusCode) -> ApiError {
        ApiError { status, ..self }
    }

    /// `Retry-After` in seconds, and `retry_after_ms` in the body.
    pub(super) fn retry_after(self, seconds: u64) -> ApiError {
        ApiError {
            retry_after_s: Some(seconds),
            ..self
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "code": self.code.as_str(),
            "message": self.message,
            "category": self.code.category().0,
            "retryable": self.code.retryable(),
        });
        if let Some(s) = self.retry_after_s {
            error["retry_after_ms"] = json!(s * 1000);
        }
        let body = axum::Json(json!({"success": false, "error": error}));
        match self.retry_after_s {
            Some(s) => (self.status, [(header::RETRY_AFTER, s.to_string())], body).into_response(),
            None => (self.status, body).into_response(),
        }
    }
}
