//! What the in-memory stores share.

use crate::store::{Page, StoreError};

/// Pages over an ordered listing with an offset cursor.
pub(crate) fn paginate<T: Clone>(
    all: impl Iterator<Item = T>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<T>, StoreError> {
    let start = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| StoreError::BadCursor)?,
    };
    let limit = limit.clamp(1, 1000) as usize;
    let mut items: Vec<T> = all.skip(start).take(limit + 1).collect();
    let next = (items.len() > limit).then(|| (start + limit).to_string());
    items.truncate(limit);
    Ok(Page { items, next })
}
