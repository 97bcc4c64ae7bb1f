//! A JSON body extractor whose rejections follow the error model.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON request body. A missing or wrong content type is 415, unreadable JSON 400, JSON
/// of the wrong shape 422, a body over the limit 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejected(&rejection)),
        }
    }
}

/// An optional JSON body: a request with no body and no content type has none.
impl<T, S> OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if req.headers().contains_key(header::CONTENT_TYPE) {
            return <Self as FromRequest<S>>::from_request(req, state)
                .await
                .map(Some);
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::bad_request("the body cannot be read"))?;
        if body.is_empty() {
            Ok(None)
        } else {
            Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE))
        }
    }
}

/// Reads a JSON body already in hand (when the raw bytes are needed too, to check a
/// signature), with the same answers as [`ApiJson`].
///
/// # Errors
///
/// 415 without a JSON content type, 400 for unreadable JSON, 422 for the wrong shape.
pub fn parse<T: DeserializeOwned>(headers: &http::HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
        });
    if !json {
        return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable(data_error(&e.to_string())),
        _ => ApiError::bad_request("the body is not valid JSON"),
    })
}

fn rejected(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("the body is not valid JSON"),
        // serde's message names the field and what was expected, never the value.
        JsonRejection::JsonDataError(e) => ApiError::unprocessable(data_error(&e.body_text())),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
        }
        _ => ApiError::bad_request("the body cannot be read"),
    }
}

/// Keeps serde's description of the problem, without the value that was sent (which may
/// be personal data) and without axum's prefix.
fn data_error(text: &str) -> String {
    let detail = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    let detail = match detail.split_once(": invalid ") {
        Some((path, _)) => format!("{path}: wrong type or value"),
        None if detail.starts_with("invalid ") => "a value has the wrong type or value".into(),
        None => detail
            .split(" at line ")
            .next()
            .unwrap_or(detail)
            .to_owned(),
    };
    let detail: String = detail.chars().take(200).collect();
    format!("the body does not have the expected fields: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_error_names_the_field_but_not_the_value() {
        let text = "Failed to deserialize the JSON body into the target type: \
                    rate_limits.1m: invalid type: string \"jane@example.com\", \
                    expected u32 at line 1 column 30";
        let message = data_error(text);
        assert_eq!(
            message,
            "the body does not have the expected fields: rate_limits.1m: wrong type or value"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = "Failed to deserialize the JSON body into the target type: \
                    missing field `name` at line 1 column 2";
        assert_eq!(
            data_error(text),
            "the body does not have the expected fields: missing field `name`"
        );
    }
}
