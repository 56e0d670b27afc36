//! `cargo bench -p catalog`: the pure functions on every records request, without the database.
//!
//! Query-string parsing (filters, order, page; aggregates), keyset cursor encode/decode, and the
//! JSON and CSV row encoders, on the benchmark's "laporan warga" schema and rows shaped like
//! `shared/bench/gen_data.py`'s. Throughput is reported per element (query, cursor, row) so a
//! change shows as time per unit, independent of how many rows a case encodes.
use std::hint::black_box;

use catalog::domain::TimeZone;
use catalog::records::cursor::{self, CursorKey, CursorPayload};
use catalog::records::encode::{self, Columns, CsvEncoder, NdjsonEncoder};
use catalog::records::query::{parse_aggregate, parse_records};
use catalog::records::read::Row;
use catalog::schema::{Cell, Field, FieldType, TableSchema};
use chrono::{DateTime, Duration};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const DISTRICTS: [&str; 6] = [
    "Balikpapan Selatan",
    "Balikpapan Kota",
    "Balikpapan Timur",
    "Balikpapan Utara",
    "Balikpapan Tengah",
    "Balikpapan Barat",
];
const CATEGORIES: [&str; 5] = ["jalan rusak", "sampah", "banjir", "lampu jalan", "drainase"];
const STATUSES: [&str; 4] = ["baru", "diproses", "selesai", "ditolak"];

/// The columns of the benchmark dataset, with the types `gerbang import` infers for them.
fn schema() -> TableSchema {
    let f = |name: &str, field_type, nullable| Field {
        name: name.into(),
        field_type,
        description: None,
        nullable,
    };
    TableSchema {
        fields: vec![
            f("id", FieldType::Integer, false),
            f("reported_at", FieldType::Datetime, false),
            f("district", FieldType::String, false),
            f("category", FieldType::String, false),
            f("status", FieldType::String, false),
            f("priority", FieldType::Integer, false),
            f("latitude", FieldType::Number, false),
            f("longitude", FieldType::Number, false),
            f("description", FieldType::String, false),
            f("resolved_days", FieldType::Number, true),
        ],
        primary_key: vec![],
        indexes: vec![],
    }
}

/// `n` rows like the generator's: a timestamp every few minutes, a text with a comma (so CSV
/// quotes it), and a null `resolved_days` on most rows.
fn rows(n: usize) -> Vec<Row> {
    let start = DateTime::parse_from_rfc3339("2019-01-01T00:02:11+08:00").expect("a timestamp");
    (0..n)
        .map(|i| {
            let id = i as i64 + 1;
            let resolved = if i % 3 == 0 {
                Cell::Num(0.5 + (i % 40) as f64 / 10.0)
            } else {
                Cell::Null
            };
            Row {
                id,
                cells: vec![
                    Cell::Int(id),
                    Cell::DateTime(start + Duration::seconds(217 * id)),
                    Cell::Str(DISTRICTS[i % DISTRICTS.len()].into()),
                    Cell::Str(CATEGORIES[i % CATEGORIES.len()].into()),
                    Cell::Str(STATUSES[i % STATUSES.len()].into()),
                    Cell::Int(1 + (i % 5) as i64),
                    Cell::Num(-1.228431 + (i % 997) as f64 * 1e-6),
                    Cell::Num(116.879622 - (i % 991) as f64 * 1e-6),
                    Cell::Str(format!(
                        "Aspal mengelupas dan retak di Jl. Ahmad Yani depan minimarket nomor {i}, \
                         membahayakan pengendara motor. Terima kasih."
                    )),
                    resolved,
                ],
            }
        })
        .collect()
}

fn params(qs: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(qs).expect("a valid query string")
}

fn bench_parsing(c: &mut Criterion) {
    let schema = schema();
    let tz = TimeZone::default();
    let cases = [
        // workloads.md W2: two equality filters, a two-term order, a page size
        (
            "records_w2",
            "district=eq.Balikpapan%20Utara&category=eq.banjir&order=reported_at.desc,id.desc&limit=100",
        ),
        // every filter form: range on a datetime, in-list, contains, is.null, plus search
        (
            "records_filters",
            "reported_at=gte.2024-01-01T00:00:00%2B08:00&reported_at=lt.2025-01-01T00:00:00Z&priority=in.(3,4,5)\
             &status=neq.ditolak&description=contains.Ahmad%20Yani&resolved_days=is.null&q=banjir%20jalan",
        ),
        (
            "records_select_count",
            "select=id,district,category,reported_at&id=gt.500000&order=id.asc&limit=1000&count=exact",
        ),
    ];
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    for (name, qs) in cases {
        let p = params(qs);
        parse_records(&schema, tz, &p).expect("the case parses");
        g.bench_function(name, |b| {
            b.iter(|| parse_records(black_box(&schema), tz, black_box(&p)))
        });
    }
    let agg =
        params("group_by=district,category&metrics=count,avg:resolved_days&status=eq.selesai");
    g.bench_function("aggregate", |b| {
        b.iter(|| parse_aggregate(black_box(&schema), tz, black_box(&agg)))
    });
    // the 400 path costs a formatted message: keep it cheap too
    let bad = params("priority=gt.high&limit=100");
    g.bench_function("records_invalid_filter", |b| {
        b.iter(|| parse_records(black_box(&schema), tz, black_box(&bad)).is_err())
    });
    g.finish();
}

fn bench_cursor(c: &mut Criterion) {
    let schema = schema();
    let q = parse_records(
        &schema,
        TimeZone::default(),
        &params("district=eq.Balikpapan%20Utara&category=eq.banjir&order=reported_at.desc,id.desc"),
    )
    .expect("parses");
    let key = CursorKey::derive(b"a bench secret of some length");
    let hash = cursor::query_hash(&q.fingerprint());
    let payload = CursorPayload {
        v: 42,
        h: hash.clone(),
        k: vec![
            serde_json::json!(1_735_660_800_000_000_i64),
            serde_json::json!(999_993),
            serde_json::json!(999_993),
        ],
    };
    let raw = cursor::encode(&key, &payload);
    let mut g = c.benchmark_group("cursor");
    g.throughput(Throughput::Elements(1));
    g.bench_function("query_hash", |b| {
        b.iter(|| cursor::query_hash(black_box(&q.fingerprint())))
    });
    g.bench_function("encode", |b| {
        b.iter(|| cursor::encode(black_box(&key), black_box(&payload)))
    });
    g.bench_function("decode", |b| {
        b.iter(|| cursor::decode(black_box(&key), black_box(&raw), 42, &hash).expect("valid"))
    });
    let mut forged = raw.clone();
    forged.replace_range(0..1, if raw.starts_with('e') { "f" } else { "e" });
    g.bench_function("decode_forged", |b| {
        b.iter(|| cursor::decode(black_box(&key), black_box(&forged), 42, &hash).is_err())
    });
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let schema = schema();
    let all: Vec<usize> = (0..schema.fields.len()).collect();
    let cols = Columns::new(&schema, &all);
    let page = rows(100);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("json_record", |b| {
        b.iter_batched_ref(
            || Vec::with_capacity(512),
            |buf| encode::write_json_record(buf, black_box(&cols), black_box(&page[0])),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(page.len() as u64));
    g.bench_function("json_page_100", |b| {
        b.iter(|| encode::json_array(black_box(&cols), black_box(&page)))
    });
    g.bench_function("csv_page_100", |b| {
        b.iter(|| encode::encode_all(&mut CsvEncoder::new(cols.clone(), false), black_box(&page)))
    });
    g.bench_function("ndjson_page_100", |b| {
        b.iter(|| encode::encode_all(&mut NdjsonEncoder(cols.clone()), black_box(&page)))
    });
    // an export's steady state: rows appended to one reused 128 KiB chunk
    let many = rows(1000);
    g.throughput(Throughput::Elements(many.len() as u64));
    g.bench_function("csv_export_1000", |b| {
        let mut enc = CsvEncoder::new(cols.clone(), false);
        let mut buf = Vec::with_capacity(128 << 10);
        b.iter(|| {
            for r in &many {
                if buf.len() >= 128 << 10 {
                    buf.clear();
                }
                encode::RowEncoder::row(&mut enc, &mut buf, black_box(r));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parsing, bench_cursor, bench_encode);
criterion_main!(benches);
