use sea_orm::entity::prelude::*;

/// Requests per day, key and dataset. Anonymous callers have an empty `key_id`; requests outside
/// a dataset have empty `agency` and `dataset`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    pub developer_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dataset: String,
    pub requests: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
