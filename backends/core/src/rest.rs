//! The LeanSpec REST routes and `GET /api/tools`: thin wrappers over [`crate::spec_api`], so
//! that each answer is exactly what the matching tool returns.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use contract::tools::ToolList;

use crate::error::ApiError;
use crate::spec_api::{self, Page};
use crate::tools::Toolbox;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(query: Params) -> Result<HashMap<String, String>, ApiError> {
    query
        .map(|Query(map)| map)
        .map_err(|e| ApiError::InvalidRequest(format!("invalid query string: {e}")))
}

/// `GET /api/specs[?status=&offset=&limit=]`; an empty `status` means all.
pub async fn list_specs(State(toolbox): State<Toolbox>, query: Params) -> Response {
    let result = params(query).and_then(|p| {
        let status = p
            .get("status")
            .map(String::as_str)
            .filter(|s| !s.is_empty());
        let page = Page::parse(
            p.get("offset").map(String::as_str),
            p.get("limit").map(String::as_str),
        )?;
        spec_api::list_specs(toolbox.store(), status, page)
    });
    respond(result)
}

/// `GET /api/specs/{id}`.
pub async fn get_spec(
    State(toolbox): State<Toolbox>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let result = path_param(id).and_then(|id| spec_api::get_spec(toolbox.store(), &id));
    respond(result)
}

/// A path segment, or the JSON 400 axum would otherwise answer in plain text (e.g. for a
/// percent-encoding that is not UTF-8).
pub(crate) fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    param
        .map(|Path(value)| value)
        .map_err(|e| ApiError::InvalidRequest(format!("invalid path: {e}")))
}

/// `GET /api/search?q=`.
pub async fn search(State(toolbox): State<Toolbox>, query: Params) -> Response {
    let result = params(query).and_then(|p| {
        let q = p.get("q").ok_or_else(|| {
            ApiError::InvalidRequest(
                "missing query parameter q, e.g. /api/search?q=streaming".into(),
            )
        })?;
        spec_api::search_specs(toolbox.store(), q)
    });
    respond(result)
}

/// `GET /api/tools`.
pub async fn tools(State(toolbox): State<Toolbox>) -> Json<ToolList> {
    Json(toolbox.tool_list())
}

fn respond<T: serde::Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}
