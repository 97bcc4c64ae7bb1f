//! The error model: every error answer is `{"error": "<code>", "message": "<text>"}`.
//!
//! Messages are written for the caller and never carry internals (no database errors, no
//! paths, no reasons a key check failed); the server logs and audits the details.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    headers: Vec<(&'static str, String)>,
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error answer with this status, code and message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The same answer with a header added (`Retry-After`, rate-limit fields).
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 429: a limit was reached; `fields` are the rate-limit header fields.
    pub fn rate_limited(fields: Vec<(&'static str, String)>) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; see Retry-After",
        );
        error.headers = fields;
        error
    }

    /// 403: the client address is blocked.
    pub fn blocked() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "blocked",
            "requests from this address are blocked for a while",
        )
    }

    /// 400: the request cannot be read.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no valid credentials. Says nothing about what was wrong with them.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required",
        )
    }

    /// 403: the caller may not do this.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this key may not perform this action",
        )
    }

    /// 404: no such thing (or not one the caller may see).
    pub fn not_found(what: &'static str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409: a record with the same unique fields exists.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422: the request was read but its content is not acceptable.
    pub fn unprocessable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }

    /// 503: the server cannot answer now.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500: something failed inside; the details are in the log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request",
        )
    }

    /// The answer for a status produced outside the handlers (routing, body limit,
    /// timeout), with a generic message.
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "the request cannot be read"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "a valid API key is required"),
            StatusCode::FORBIDDEN => ("forbidden", "this key may not perform this action"),
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "this method is not allowed here")
            }
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "the request body is larger than 64 KiB",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json)",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => ("validation_failed", "the request is not valid"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => (
                "unavailable",
                "the server cannot answer in time; try again later",
            ),
            s if s.is_client_error() => ("bad_request", "the request cannot be handled"),
            _ => ("internal_error", "the server failed to handle this request"),
        };
        Self::new(status, code, message)
    }

    /// Its status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message: &self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(*name, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::conflict("a record with the same name exists"),
            other => {
                tracing::error!(error = %ErrorChain(&other), "store operation failed");
                Self::unavailable("the server cannot reach its records; try again later")
            }
        }
    }
}

/// Displays an error with its causes, for the log.
pub struct ErrorChain<'e>(pub &'e (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
