//! The typed document of one dataset version, built at run time from its schema: each column a
//! typed filter parameter with its operators, the record as a schema with formats, nullability
//! and example values taken from the data, the aggregate endpoint and the export formats.
//! Versions are immutable, so the gateway builds each document once and caches it.
use catalog::schema::{FieldType, TableSchema};
use serde_json::{json, Value};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItemBuilder,
};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType};
use utoipa::openapi::schema::{KnownFormat, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
};
use utoipa::IntoParams;

use crate::params::{AggregateQuery, RecordQuery, FILTER_OPERATORS};
use crate::platform;

/// What the document of one version is made from.
pub struct VersionDoc<'a> {
    pub agency: &'a str,
    pub dataset: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub license: &'a str,
    pub version: i32,
    pub schema: &'a TableSchema,
    /// One example per field (the first non-null value in the data), in schema order.
    pub examples: &'a [Option<Value>],
    /// Whether the version offers GeoJSON (coordinates in its schema).
    pub geojson: bool,
    /// Whether reading it needs a key.
    pub registered: bool,
}

/// Query parameters of the records endpoint that are not columns: a column with one of these
/// names cannot be filtered by name.
const RESERVED: &[&str] = &[
    "q", "select", "order", "limit", "cursor", "offset", "count", "format", "api_key",
];

fn field_schema(ty: FieldType, nullable: bool, example: Option<&Value>) -> Schema {
    let (t, format) = match ty {
        FieldType::Integer => (Type::Integer, Some(KnownFormat::Int64)),
        FieldType::Number => (Type::Number, Some(KnownFormat::Double)),
        FieldType::Boolean => (Type::Boolean, None),
        FieldType::String => (Type::String, None),
        FieldType::Date => (Type::String, Some(KnownFormat::Date)),
        FieldType::Datetime => (Type::String, Some(KnownFormat::DateTime)),
    };
    let schema_type = if nullable {
        SchemaType::from_iter([t, Type::Null])
    } else {
        SchemaType::Type(t)
    };
    let mut b = ObjectBuilder::new()
        .schema_type(schema_type)
        .format(format.map(SchemaFormat::KnownFormat));
    if let Some(e) = example {
        b = b.examples([e.clone()]);
    }
    b.into()
}

/// The example of a filter on this column, e.g. `eq.Balikpapan Utara` or `gte.3`.
fn filter_example(ty: FieldType, example: Option<&Value>) -> String {
    let text = match example {
        Some(Value::String(s)) => s.chars().take(40).collect(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => String::new(),
    };
    match (ty, text.is_empty()) {
        (_, true) => "is.notnull".to_owned(),
        (FieldType::Integer | FieldType::Number | FieldType::Date | FieldType::Datetime, _) => {
            format!("gte.{text}")
        }
        (FieldType::String, _) => format!("eq.{text}"),
        (FieldType::Boolean, _) => format!("eq.{text}"),
    }
}

fn record_schema(doc: &VersionDoc) -> Schema {
    let mut b = ObjectBuilder::new()
        .description(Some(format!(
            "One record of {} version {}.",
            doc.title, doc.version
        )))
        .property(
            "_id",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .description(Some("The record's 1-based row number in this version."))
                .examples([json!(1)]),
        )
        .required("_id");
    for (i, f) in doc.schema.fields.iter().enumerate() {
        let example = doc.examples.get(i).and_then(Option::as_ref);
        let mut s = field_schema(f.field_type, f.nullable, example);
        if let (Schema::Object(o), Some(d)) = (&mut s, &f.description) {
            o.description = Some(d.clone());
        }
        b = b.property(f.name.clone(), s);
        // `select` can leave any column out, so only `_id` is always there.
    }
    b.into()
}

fn json_content(schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn text_content(description: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description)),
        ))
        .build()
}

/// The document of one published version.
pub fn version_spec(doc: &VersionDoc) -> OpenApi {
    let base = format!(
        "/v1/datasets/{}/{}/versions/{}",
        doc.agency, doc.dataset, doc.version
    );
    let security = read_security(doc.registered);

    // One typed query parameter per column.
    let mut column_params = vec![];
    let mut shadowed = vec![];
    for (i, f) in doc.schema.fields.iter().enumerate() {
        if RESERVED.contains(&f.name.as_str()) {
            shadowed.push(f.name.clone());
            continue;
        }
        let example = doc.examples.get(i).and_then(Option::as_ref);
        column_params.push(
            ParameterBuilder::new()
                .name(f.name.clone())
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(format!(
                    "Filter on `{}` ({}{}): `{{op}}.{{value}}` with {FILTER_OPERATORS}. {}{}May \
                     repeat (AND).",
                    f.name,
                    f.field_type.as_str(),
                    if f.nullable { ", has nulls" } else { "" },
                    if f.field_type == FieldType::Datetime {
                        "A value without an offset, or a date alone (its midnight), is read in \
                         the dataset's time zone. "
                    } else {
                        ""
                    },
                    f.description
                        .as_deref()
                        .map(|d| format!("{d}. "))
                        .unwrap_or_default(),
                )))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .example(Some(Value::String(filter_example(f.field_type, example))))
                .build(),
        );
    }

    let mut records_params: Vec<_> = RecordQuery::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .filter(|p| p.name != "filters")
        .collect();
    records_params.extend(column_params);

    let mut page = ResponseBuilder::new()
        .description("A page of records, or the whole selection streamed as csv/ndjson/geojson.")
        .content(
            "application/json",
            json_content(Ref::from_schema_name("RecordPage")),
        )
        .content("text/csv", text_content("CSV with a header row."))
        .content(
            "application/x-ndjson",
            text_content("One JSON record per line."),
        );
    if doc.geojson {
        page = page.content(
            "application/geo+json",
            json_content(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("A GeoJSON FeatureCollection of the records.")),
            ),
        );
    }
    let records = OperationBuilder::new()
        .operation_id(Some("query_records"))
        .tag("records")
        .summary(Some(format!("Query the records of {}", doc.title)))
        .description(Some(format!(
            "Filter, sort, page, search or export version {} (immutable: answers are cached \
             for a year){}.",
            doc.version,
            if shadowed.is_empty() {
                String::new()
            } else {
                format!(
                    "; columns named like a parameter cannot be filtered by name: {}",
                    shadowed.join(", ")
                )
            }
        )))
        .parameters(Some(records_params))
        .response("200", page.build())
        .response("304", not_modified())
        .securities(Some(security.clone()))
        .build();

    let record = OperationBuilder::new()
        .operation_id(Some("get_record"))
        .tag("records")
        .summary(Some("One record by its _id"))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(1)),
                ))
                .example(Some(json!(1))),
        )
        .response(
            "200",
            ResponseBuilder::new()
                .description("The record.")
                .content(
                    "application/json",
                    json_content(Ref::from_schema_name("Record")),
                )
                .build(),
        )
        .response("304", not_modified())
        .securities(Some(security.clone()))
        .build();

    let columns: Vec<String> = doc.schema.fields.iter().map(|f| f.name.clone()).collect();
    let aggregate = OperationBuilder::new()
        .operation_id(Some("aggregate_records"))
        .tag("records")
        .summary(Some("Grouped counts and metrics"))
        .description(Some(format!(
            "Group by any of: {}. Filters and `q` apply first. One row without `group_by`.",
            columns.join(", ")
        )))
        .parameters(Some({
            let mut p = AggregateQuery::into_params(|| Some(ParameterIn::Query));
            p.extend(records_params_columns(&doc.schema.fields, &shadowed));
            p
        }))
        .response(
            "200",
            ResponseBuilder::new()
                .description("`{data: [row]}`; columns `count` and `{fn}_{column}`.")
                .content(
                    "application/json",
                    json_content(
                        ObjectBuilder::new()
                            .property(
                                "data",
                                ArrayBuilder::new().items(
                                    ObjectBuilder::new()
                                        .schema_type(Type::Object)
                                        .additional_properties(Some(
                                            ObjectBuilder::new().schema_type(SchemaType::AnyValue),
                                        )),
                                ),
                            )
                            .required("data"),
                    ),
                )
                .build(),
        )
        .response("304", not_modified())
        .securities(Some(security))
        .build();

    let paths = PathsBuilder::new()
        .path(
            format!("{base}/records"),
            PathItemBuilder::new()
                .operation(HttpMethod::Get, records)
                .build(),
        )
        .path(
            format!("{base}/records/{{id}}"),
            PathItemBuilder::new()
                .operation(HttpMethod::Get, record)
                .build(),
        )
        .path(
            format!("{base}/aggregate"),
            PathItemBuilder::new()
                .operation(HttpMethod::Get, aggregate)
                .build(),
        )
        .build();

    let mut components = utoipa::openapi::Components::new();
    components
        .schemas
        .insert("Record".to_owned(), RefOr::T(record_schema(doc)));
    components.schemas.insert(
        "RecordPage".to_owned(),
        RefOr::T(
            ObjectBuilder::new()
                .property(
                    "data",
                    ArrayBuilder::new().items(Ref::from_schema_name("Record")),
                )
                .property(
                    "next_cursor",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .description(Some("Pass as `cursor` for the next page; null at the end.")),
                )
                .property(
                    "total",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .description(Some("With `count=exact` only.")),
                )
                .required("data")
                .required("next_cursor")
                .into(),
        ),
    );

    let openapi = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("{} — version {}", doc.title, doc.version))
                .version(doc.version.to_string())
                .description(Some(format!(
                    "{}\n\nAgency `{}`, dataset `{}`, license {}. This document is generated from \
                     the version's schema; the platform document is `/v1/openapi.json`.",
                    doc.description, doc.agency, doc.dataset, doc.license
                )))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build();
    platform::conventions(openapi)
}

/// Column filters also narrow aggregates.
fn records_params_columns(
    fields: &[catalog::schema::Field],
    shadowed: &[String],
) -> Vec<utoipa::openapi::path::Parameter> {
    fields
        .iter()
        .filter(|f| {
            !shadowed.contains(&f.name) && !["group_by", "metrics"].contains(&f.name.as_str())
        })
        .map(|f| {
            ParameterBuilder::new()
                .name(f.name.clone())
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(format!(
                    "Filter on `{}` ({}) before grouping.",
                    f.name,
                    f.field_type.as_str()
                )))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
        })
        .collect()
}

fn not_modified() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("Not modified: the `If-None-Match` validator still matches.")
        .build()
}

/// Reads take no credentials (public datasets) or a key (`registered` ones).
fn read_security(registered: bool) -> Vec<SecurityRequirement> {
    let mut reqs = vec![
        SecurityRequirement::new(platform::API_KEY, Vec::<String>::new()),
        SecurityRequirement::new(platform::API_KEY_QUERY, Vec::<String>::new()),
    ];
    if !registered {
        reqs.insert(0, SecurityRequirement::default());
    }
    reqs
}
