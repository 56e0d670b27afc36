//! Bodies several resources answer with.
use serde::Serialize;
use utoipa::ToSchema;

/// A list: `{data, next_cursor}` and, where cheap, `total`.
#[derive(Serialize, ToSchema)]
pub struct ListView<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null when this is the last one.
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl<T> ListView<T> {
    /// A whole list in one page.
    pub fn all(data: Vec<T>) -> Self {
        Self {
            data,
            next_cursor: None,
            total: None,
        }
    }

    pub fn with_total(mut self) -> Self {
        self.total = Some(self.data.len() as u64);
        self
    }
}
