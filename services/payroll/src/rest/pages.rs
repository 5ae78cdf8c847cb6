//! Cursor pagination of REST lists: `?limit=` (1 to [`MAX_LIMIT`], default
//! [`DEFAULT_LIMIT`]) and `?after=`, the opaque cursor of the last item of
//! the page before. The body stays the list itself, in the list's order; a
//! page with more after it names the next one in a `Link: <…>; rel="next"`
//! header (RFC 8288), absent on the last page. A cursor names an item, not a
//! position, so a page read after an item was added still follows on.

use axum::Json;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::ServiceError;

/// Items per page when the request names no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// The most items a page holds.
pub const MAX_LIMIT: usize = 500;

/// Which page of a list to answer.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The cursor of the page before, as its `Link: rel="next"` header
    /// gives it (format `kvp-cursor`: only the service issues cursors; one
    /// this list did not issue is 400); absent for the first page.
    pub after: Option<String>,
}

/// One page of a list, answered with its `Link` to the next.
#[derive(Debug)]
pub struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl PageQuery {
    /// The page of `items` (in their list order) this query asks for;
    /// `key` names an item uniquely and stably.
    pub fn page<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> Result<Page<T>, ServiceError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ServiceError::field(
                "limit",
                format!("must be 1 to {MAX_LIMIT}"),
            ));
        }
        let start = match &self.after {
            None => 0,
            Some(cursor) => {
                let invalid = || ServiceError::field("after", "is not a cursor of this list");
                let after = URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(invalid)?;
                items
                    .iter()
                    .position(|item| key(item) == after)
                    .map(|i| i + 1)
                    .ok_or_else(invalid)?
            }
        };
        let more = items.len() > start + limit;
        let items: Vec<T> = items.into_iter().skip(start).take(limit).collect();
        let next = if more {
            items.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

impl<T> Page<T> {
    /// The page with each item made another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

impl<T: Serialize> Page<T> {
    /// The page as the answer to `uri`: the items, and the next page's link.
    pub fn answer(self, uri: &Uri, limit: Option<usize>) -> Response {
        let mut response = Json(self.items).into_response();
        if let Some(cursor) = self.next {
            let limit = limit.map(|l| format!("limit={l}&")).unwrap_or_default();
            let link = format!("<{}?{limit}after={cursor}>; rel=\"next\"", uri.path());
            if let Ok(value) = HeaderValue::from_str(&link) {
                response.headers_mut().insert(header::LINK, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<usize>, after: Option<&str>) -> PageQuery {
        PageQuery {
            limit,
            after: after.map(str::to_owned),
        }
    }

    #[test]
    fn pages_follow_on_from_the_item_named_without_a_gap_or_a_repeat() {
        let items: Vec<u32> = (1..=5).collect();
        let key = |n: &u32| n.to_string();
        let first = query(Some(2), None).page(items.clone(), key).unwrap();
        assert_eq!(first.items, [1, 2]);
        let cursor = first.next.unwrap();
        let second = query(Some(2), Some(&cursor))
            .page(items.clone(), key)
            .unwrap();
        assert_eq!(second.items, [3, 4]);
        let last = query(Some(2), Some(&second.next.unwrap()))
            .page(items.clone(), key)
            .unwrap();
        assert_eq!((last.items, last.next), (vec![5], None));
        // An item added before the cursor does not move the next page.
        let grown = vec![0, 1, 2, 3, 4, 5];
        assert_eq!(
            query(Some(2), Some(&cursor))
                .page(grown, key)
                .unwrap()
                .items,
            [3, 4]
        );
        assert!(query(Some(0), None).page(items.clone(), key).is_err());
        assert!(
            query(None, Some("bm90LWFuLWl0ZW0"))
                .page(items, key)
                .is_err()
        );
    }
}
