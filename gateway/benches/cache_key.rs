//! `cargo bench -p gateway`: the response cache's key normalisation ([`records_key`]), alone and
//! as a request pays for it (query string → parsed query → key), on the benchmark's schema.
use std::hint::black_box;

use catalog::domain::TimeZone;
use catalog::records::query::{parse_records, RecordFormat};
use catalog::schema::{Field, FieldType, TableSchema};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gateway::cache::records_key;

fn schema() -> TableSchema {
    let f = |name: &str, field_type| Field {
        name: name.into(),
        field_type,
        description: None,
        nullable: false,
    };
    TableSchema {
        fields: vec![
            f("id", FieldType::Integer),
            f("reported_at", FieldType::Datetime),
            f("district", FieldType::String),
            f("category", FieldType::String),
            f("status", FieldType::String),
            f("priority", FieldType::Integer),
            f("latitude", FieldType::Number),
            f("longitude", FieldType::Number),
            f("description", FieldType::String),
            f("resolved_days", FieldType::Number),
        ],
        primary_key: vec![],
        indexes: vec![],
    }
}

fn bench_key(c: &mut Criterion) {
    let schema = schema();
    let tz = TimeZone::default();
    let mut g = c.benchmark_group("cache_key");
    g.throughput(Throughput::Elements(1));
    for (name, qs) in [
        // workloads.md W2
        (
            "w2",
            "district=eq.Balikpapan%20Utara&category=eq.banjir&order=reported_at.desc,id.desc&limit=100",
        ),
        // W2 spelled differently: the same key, so the same cost
        (
            "w2_reordered",
            "limit=100&order=reported_at.desc,id.desc&category=eq.banjir&district=eq.Balikpapan%20Utara&api_key=gbk_x",
        ),
        (
            "many_filters",
            "priority=in.(3,4,5)&status=neq.ditolak&reported_at=gte.2024-01-01T00:00:00%2B08:00&resolved_days=is.null\
             &q=banjir&select=id,district,reported_at&count=exact",
        ),
    ] {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(qs).expect("valid");
        let q = parse_records(&schema, tz, &params).expect("parses");
        g.bench_function(format!("{name}/key"), |b| {
            b.iter(|| records_key(black_box(42), RecordFormat::Json, black_box(&q)))
        });
        g.bench_function(format!("{name}/parse_and_key"), |b| {
            b.iter(|| {
                let params: Vec<(String, String)> =
                    serde_urlencoded::from_str(black_box(qs)).expect("valid");
                let q = parse_records(&schema, tz, &params).expect("parses");
                records_key(42, RecordFormat::Json, &q)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_key);
criterion_main!(benches);
