//! How a page of records is served on SQLite, whose planner cannot see how many rows a filter
//! or a full-text query matches: probe capped counts and `sqlite_stat1`, then pick an
//! [`Access`]. Postgres plans from its own statistics and always gets [`Access::Free`]. Use
//! [`choose_access`]; [`read`](super::read) builds the statement for the chosen access.
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use sea_query::{Alias, Condition, Expr, Query, SimpleExpr, Value};

use super::layout::Layout;
use super::query::{ColRef, Dir, Filter, Op, RecordQuery, Selection};
use super::read::{filter_expr, is_nullable, VersionTable};
use crate::error::Result;
use crate::schema::FieldType;

/// How the WHERE clause may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Let the database pick indexes for the filters.
    Free,
    /// SQLite only: make filters on other columns unindexable (`+col`), so the index of the
    /// first sort column (this one; its own range filters stay indexable) is walked in order
    /// and the scan stops at the page's end. Chosen when the filters match many rows, which
    /// SQLite's planner cannot see (it would sort them all).
    WalkOrderIndex(ColRef),
    /// SQLite only, for `q` with an order that is in effect by `_id` ([`id_order`]): the
    /// full-text index hands out its matches in rowid order (`_hit`), each row is looked up by
    /// key and filtered, and the scan stops at the page's end; the cursor seeks in the index.
    /// Otherwise every match would be collected and sorted before the first row comes out.
    WalkMatches(Dir),
}

/// The column the full-text index's matches come out as under [`Access::WalkMatches`].
pub(super) const HIT: &str = "_hit";

/// When ordering the rows by `_id` orders them as asked: every sort term runs in one direction
/// and is `_id` or a field found ascending at load (never decreasing as `_id` grows, never
/// null; see [`Layout::ascending`]). The sort key then grows with `_id` (the order ends with
/// `_id`), so a row comes after a cursor's row exactly when its `_id` does.
fn id_order(table: &VersionTable, query: &RecordQuery) -> Option<Dir> {
    let dir = query.order.first()?.dir;
    query
        .order
        .iter()
        .all(|t| {
            t.dir == dir
                && match t.col {
                    ColRef::Id => true,
                    ColRef::Field(i) => table.layout.ascending.contains(&i),
                }
        })
        .then_some(dir)
}

/// The positions in `query.order` of the terms a statement sorts and seeks by: every term but
/// those just before the final `_id` that are fields found ascending and run in `_id`'s
/// direction (the first term always stays, so the index a page walks is the one asked for).
/// Ordering by such a field, then by `_id`, is ordering by `_id` (see [`Layout::ascending`]),
/// so the rows come out the same; but an index on the terms kept now reads them in order. W2
/// (`order=reported_at.desc,id.desc` over an index on district, category, reported_at) sorted
/// each page's rows of one instant by `id` after the index scan, on both backends.
pub(super) fn sort_keys(table: &VersionTable, query: &RecordQuery) -> Vec<usize> {
    let n = query.order.len();
    let Some(last) = query.order.last() else {
        return vec![];
    };
    let redundant = |t: &super::query::OrderTerm| {
        t.dir == last.dir
            && matches!(t.col, ColRef::Field(i) if table.layout.ascending.contains(&i))
    };
    let dropped = query.order[1..(n - 1).max(1)]
        .iter()
        .rev()
        .take_while(|t| redundant(t))
        .count();
    (0..n - 1 - dropped).chain([n - 1]).collect()
}

/// `fts MATCH ?` on SQLite: every word, each quoted (so operators in the input are only words).
pub(super) fn fts_match(fts: &str, words: &[String]) -> SimpleExpr {
    let matcher = words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ");
    Expr::cust_with_values(
        format!("\"{fts}\" MATCH ?"),
        [Value::String(Some(Box::new(matcher)))],
    )
}

/// Past this many matches, walking the sort index beats sorting the matches.
const MANY_MATCHES: u64 = 5000;
/// When the statistics promise many matches, a probe only makes sure there are at least this
/// many (correlated columns can make the estimate wrong, down to no match at all).
const FEW_MATCHES: u64 = 200;

/// What `sqlite_stat1` says of a record table (a full `ANALYZE` at the end of ingestion).
#[derive(Debug, Default)]
pub(super) struct TableStats {
    pub(super) rows: f64,
    /// Column name → average rows per distinct value (the first number after the row count).
    per_value: std::collections::HashMap<String, f64>,
}

impl TableStats {
    /// `sqlite_stat1` rows `(idx, stat)` of a table whose indexes are named `{table}_{column}`.
    fn parse(table: &str, rows: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut stats = TableStats::default();
        let prefix = format!("{table}_");
        for (idx, stat) in rows {
            let Some(column) = idx.strip_prefix(&prefix) else {
                continue;
            };
            let mut numbers = stat.split(' ').map(str::parse::<f64>);
            if let (Some(Ok(n)), Some(Ok(per_value))) = (numbers.next(), numbers.next()) {
                stats.rows = stats.rows.max(n);
                stats
                    .per_value
                    .insert(column.to_owned(), per_value.max(1.0));
            }
        }
        stats
    }

    /// Matches of equality and `in` filters, taking the columns as independent; `None` when a
    /// filter has another operator or its column has no statistics.
    pub(super) fn estimate(&self, filters: &[&Filter]) -> Option<f64> {
        if self.rows < 1.0 {
            return None;
        }
        let mut matches = self.rows;
        for f in filters {
            let ColRef::Field(i) = f.col else {
                return None;
            };
            let per_value = *self.per_value.get(&Layout::col(i))?;
            let values = match f.op {
                Op::Eq => 1.0,
                Op::In => f.values.len() as f64,
                _ => return None,
            };
            matches *= (per_value * values / self.rows).min(1.0);
        }
        Some(matches)
    }
}

/// The statistics of a record table, read once per process: tables are immutable once loaded.
pub(super) async fn table_stats(
    db: &DatabaseConnection,
    table: &str,
) -> Option<std::sync::Arc<TableStats>> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    static STATS: LazyLock<Mutex<HashMap<String, Arc<TableStats>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if let Some(s) = STATS.lock().ok()?.get(table) {
        return Some(Arc::clone(s));
    }
    // no sqlite_stat1 (never analysed) is no statistics, not an error
    let rows = db
        .query_all(sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?",
            [Value::String(Some(Box::new(table.to_owned())))],
        ))
        .await
        .ok()?;
    let pairs = rows.iter().filter_map(|r| {
        Some((
            r.try_get_by_index::<String>(0).ok()?,
            r.try_get_by_index::<String>(1).ok()?,
        ))
    });
    let stats = Arc::new(TableStats::parse(table, pairs));
    let mut cache = STATS.lock().ok()?;
    if cache.len() >= 10_000 {
        cache.clear();
    }
    cache.insert(table.to_owned(), Arc::clone(&stats));
    Some(stats)
}

/// On SQLite: a full-text query whose order is in effect by `_id` walks the matches
/// ([`Access::WalkMatches`]). Otherwise, when a page is sorted by an indexed, non-null column and
/// also filtered, counts the matches up to [`MANY_MATCHES`] (an index probe of at most that many
/// entries): few matches are best found by their filter index and sorted; many are best met by
/// walking the sort index.
pub(super) async fn choose_access(
    db: &DatabaseConnection,
    table: &VersionTable,
    query: &RecordQuery,
) -> Result<Access> {
    let backend = db.get_database_backend();
    let sel = &query.selection;
    if backend != DatabaseBackend::Sqlite || (sel.filters.is_empty() && sel.q.is_empty()) {
        return Ok(Access::Free);
    }
    if !sel.q.is_empty() && !table.layout.text_fields().is_empty() {
        if let Some(dir) = id_order(table, query) {
            return Ok(Access::WalkMatches(dir));
        }
    }
    if sel.q.is_empty() && declared_index_serves(table, query) {
        return Ok(Access::Free);
    }
    let schema = table.schema();
    let walked = match query.order.first().map(|t| t.col) {
        // text columns are indexed only when short, which the schema does not record
        Some(c @ ColRef::Field(i))
            if !is_nullable(schema, c) && schema.fields[i].field_type != FieldType::String =>
        {
            c
        }
        _ => return Ok(Access::Free),
    };
    // Filters on the sort column alone are already a range of its index.
    if sel.q.is_empty() && sel.filters.iter().all(|f| f.col == walked) {
        return Ok(Access::Free);
    }
    // Each part is probed alone (capped): the other columns' filters, then the words. Walking
    // pays when every part matches many rows. When the statistics already say the filters match
    // many, the probe only checks for a few (counting thousands through a filter index costs
    // more than the page itself).
    let others: Vec<&Filter> = sel.filters.iter().filter(|f| f.col != walked).collect();
    if !others.is_empty() {
        let stats = table_stats(db, &table.layout.table).await;
        let cap = match stats.and_then(|s| s.estimate(&others)) {
            Some(e) if e >= MANY_MATCHES as f64 => FEW_MATCHES,
            _ => MANY_MATCHES,
        };
        let mut cond = Condition::all();
        for f in others {
            cond = cond.add(filter_expr(backend, f, Access::Free));
        }
        let probe = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(&table.layout.table))
            .cond_where(cond)
            .limit(cap)
            .to_owned();
        if count_capped(db, backend.build(&probe)).await? < cap {
            return Ok(Access::Free);
        }
    }
    if !sel.q.is_empty() {
        let fts = table.layout.fts_table();
        let probe = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(&fts))
            .and_where(fts_match(&fts, &sel.q))
            .limit(MANY_MATCHES)
            .to_owned();
        if count_capped(db, backend.build(&probe)).await? < MANY_MATCHES {
            return Ok(Access::Free);
        }
    }
    Ok(Access::WalkOrderIndex(walked))
}

/// The fields of the selection's equality filters; with whether those are all its filters
/// (no other filter, no words to search).
fn equality_fields(sel: &Selection) -> (Vec<usize>, bool) {
    let mut only = sel.q.is_empty();
    let mut equal = Vec::with_capacity(sel.filters.len());
    for f in &sel.filters {
        match (f.op, f.col) {
            (Op::Eq, ColRef::Field(i)) => equal.push(i),
            _ => only = false,
        }
    }
    (equal, only)
}

/// Each declared index with how many of its leading fields `equal` seeks (at least one).
fn sought_indexes<'a>(
    table: &'a VersionTable,
    equal: &'a [usize],
) -> impl Iterator<Item = (Vec<usize>, usize)> + 'a {
    (table.layout.declared_fields())
        .map(|fields| {
            let sought = fields.iter().take_while(|i| equal.contains(i)).count();
            (fields, sought)
        })
        .filter(|(_, sought)| *sought > 0)
}

/// Whether the page's order continues an index after its `sought` leading fields: its next
/// field is the first sort key (or, sorted by `_id`, every field is sought).
fn order_continues(fields: &[usize], sought: usize, query: &RecordQuery) -> bool {
    match query.order.first().map(|t| t.col) {
        Some(ColRef::Field(i)) => fields.get(sought) == Some(&i),
        _ => sought == fields.len(),
    }
}

/// Whether an index the publisher declared serves the page better than any [`Access`] choice:
/// its leading fields all have equality filters and the order continues it. SQLite then seeks
/// the equalities and reads the matches already in order, and its planner takes that index
/// when left free (its statistics show it narrows most).
fn declared_index_serves(table: &VersionTable, query: &RecordQuery) -> bool {
    let (equal, _) = equality_fields(&query.selection);
    let serves = sought_indexes(table, &equal)
        .any(|(fields, sought)| order_continues(&fields, sought, query));
    serves
}

/// A declared index whose leading fields are exactly the fields of the selection's filters,
/// when those are all equalities, that `fits` (given its fields and how many are sought).
fn only_equalities_seek(
    table: &VersionTable,
    sel: &Selection,
    fits: impl Fn(&[usize], usize) -> bool,
) -> bool {
    let (equal, only) = equality_fields(sel);
    only && sought_indexes(table, &equal).any(|(fields, sought)| {
        equal.iter().all(|i| fields[..sought].contains(i)) && fits(&fields, sought)
    })
}

/// Whether one plan serves a page whatever values its statement binds, so that Postgres can
/// plan it once ([`super::pg_direct::GenericPlans`]): its filters are equalities on a declared
/// index's leading fields and nothing else, and the order continues that index. Any plan but
/// that index's range, read in order, would be a mistake for some value; the cursor's keyset
/// bound only narrows the same range.
pub(super) fn one_plan_serves(table: &VersionTable, query: &RecordQuery) -> bool {
    only_equalities_seek(table, &query.selection, |fields, sought| {
        order_continues(fields, sought, query)
    })
}

/// Whether one plan serves counting a selection whatever its values: its filters are
/// equalities on a declared index's leading fields and nothing else (the count is then that
/// index's range).
pub(super) fn one_plan_counts(table: &VersionTable, sel: &Selection) -> bool {
    only_equalities_seek(table, sel, |_, _| true)
}

async fn count_capped(db: &DatabaseConnection, mut stmt: sea_orm::Statement) -> Result<u64> {
    stmt.sql = format!("SELECT count(*) FROM ({})", stmt.sql);
    Ok(db
        .query_one(stmt)
        .await?
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        .max(0) as u64)
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::schema::Cell;

    #[test]
    fn walking_the_order_index_makes_filter_columns_unindexable() {
        let f = Filter {
            col: ColRef::Field(1),
            op: Op::Eq,
            values: vec![Cell::Str("a".into())],
        };
        let q = |access| {
            Query::select()
                .expr(Expr::val(1))
                .from(Alias::new("t"))
                .and_where(filter_expr(DatabaseBackend::Sqlite, &f, access))
                .to_string(sea_query::SqliteQueryBuilder)
        };
        assert_eq!(q(Access::Free), r#"SELECT 1 FROM "t" WHERE "c1" = 'a'"#);
        assert_eq!(
            q(Access::WalkOrderIndex(ColRef::Field(0))),
            r#"SELECT 1 FROM "t" WHERE (+"c1") = 'a'"#
        );
        // a filter on the walked column stays a range of its index
        assert_eq!(
            q(Access::WalkOrderIndex(ColRef::Field(1))),
            r#"SELECT 1 FROM "t" WHERE "c1" = 'a'"#
        );
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;
    use crate::schema::Cell;

    fn eq(i: usize) -> Filter {
        Filter {
            col: ColRef::Field(i),
            op: Op::Eq,
            values: vec![Cell::Str("x".into())],
        }
    }

    #[test]
    fn matches_are_estimated_from_sqlite_stat1_for_equalities_only() {
        let stats = TableStats::parse(
            "rec_1",
            [
                ("rec_1_c2".to_owned(), "1000000 166667 1".to_owned()),
                ("rec_1_c3".to_owned(), "1000000 90910 1".to_owned()),
                ("rec_1_fts".to_owned(), "junk".to_owned()),
                ("other_c9".to_owned(), "5 5 1".to_owned()),
            ],
        );
        let (district, category) = (eq(2), eq(3));
        let both = stats.estimate(&[&district, &category]).unwrap();
        assert!((both - 15_151.6).abs() < 1.0, "{both}");
        let two_districts = Filter {
            op: Op::In,
            values: vec![Cell::Str("a".into()), Cell::Str("b".into())],
            ..eq(2)
        };
        assert!((stats.estimate(&[&two_districts]).unwrap() - 333_334.0).abs() < 1.0);
        let range = Filter {
            op: Op::Gt,
            ..eq(2)
        };
        assert_eq!(stats.estimate(&[&range]), None, "ranges are probed");
        assert_eq!(
            stats.estimate(&[&eq(7)]),
            None,
            "no statistics, no estimate"
        );
        assert_eq!(TableStats::default().estimate(&[&district]), None);
    }
}

#[cfg(test)]
mod walk_tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::TimeZone;
    use crate::records::cursor::CursorKey;
    use crate::records::ingest::{ingest, IngestRequest, NoProgress};
    use crate::records::query::parse_records;
    use crate::records::read::{page_statement, query_page};
    use crate::records::source::UploadFormat;

    /// A row of the test file: `(_id, seq, day, rank, kind, note)`.
    type Rec = (i64, i64, chrono::NaiveDate, i64, &'static str, &'static str);
    type Cmp = Box<dyn Fn(&Rec, &Rec) -> std::cmp::Ordering>;

    fn rows(n: i64) -> Vec<Rec> {
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        (1..=n)
            .map(|i| {
                let note = if i % 4 == 0 || i % 5 == 0 {
                    "banjir di jalan"
                } else {
                    "jalan rusak"
                };
                let kind = if i % 3 == 0 { "b" } else { "a" };
                (
                    i,
                    i * 3,
                    start + chrono::Days::new(i as u64 / 7),
                    2000 - i,
                    kind,
                    note,
                )
            })
            .collect()
    }

    /// The test file, ingested into a SQLite file in a new directory (kept alive with it).
    async fn load() -> (
        tempfile::TempDir,
        DatabaseConnection,
        VersionTable,
        Vec<Rec>,
    ) {
        load_declaring(1500, vec![]).await
    }

    /// [`load`] of the first `n` rows, with these indexes declared.
    async fn load_declaring(
        n: i64,
        indexes: Vec<Vec<String>>,
    ) -> (
        tempfile::TempDir,
        DatabaseConnection,
        VersionTable,
        Vec<Rec>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let rows = rows(n);
        // `late` ascends except once, at the very end
        let mut csv = String::from("seq,day,rank,kind,note,late\n");
        for (i, r) in rows.iter().enumerate() {
            let late = if i + 1 == rows.len() { 0 } else { i + 1 };
            csv.push_str(&format!("{},{},{},{},{},{late}\n", r.1, r.2, r.3, r.4, r.5));
        }
        std::fs::write(&path, csv).unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let request = IngestRequest {
            path,
            format: UploadFormat::Csv,
            schema: None,
            timezone: TimeZone::default(),
            indexes,
        };
        let ingested = ingest(&db, request, Arc::new(NoProgress)).await.unwrap();
        let table = VersionTable::new(1, ingested.layout, TimeZone::default());
        (dir, db, table, rows)
    }

    /// Follows a query's cursors to the end: every page's `_id`s, in order, and each page's
    /// access and plan (`EXPLAIN QUERY PLAN`).
    async fn follow(
        db: &DatabaseConnection,
        table: &VersionTable,
        params: &[(String, String)],
    ) -> (Vec<i64>, Vec<(Access, String)>) {
        let key = CursorKey::derive(b"test");
        let (mut ids, mut plans) = (vec![], vec![]);
        let mut cursor = None;
        loop {
            let mut p = params.to_vec();
            if let Some(c) = cursor.take() {
                p.push(("cursor".to_owned(), c));
            }
            let query = parse_records(table.schema(), TimeZone::default(), &p).unwrap();
            let access = choose_access(db, table, &query).await.unwrap();
            plans.push((access, explain(db, table, &query, &key).await));
            let page = query_page(db, &Default::default(), &key, table, &query)
                .await
                .unwrap();
            ids.extend(page.rows.iter().map(|r| r.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return (ids, plans),
            }
        }
    }

    /// A SQLite index names only its field: it ends in the rowid, which `_id` is. Pages ordered
    /// by a field (ties broken by `_id`) are read from its index in order, equalities in `_id`
    /// order are never sorted either, and the cursors follow both.
    #[tokio::test]
    async fn field_indexes_serve_orders_and_cursors_ending_in_id_without_a_sort() {
        let (_dir, db, table, rows) = load().await;
        let cases: Vec<(&str, Cmp)> = vec![
            ("order=rank.asc", Box::new(|a, b| a.3.cmp(&b.3))),
            (
                "order=day.desc",
                Box::new(|a, b| (b.2, b.0).cmp(&(a.2, a.0))),
            ),
            (
                "order=day.asc",
                Box::new(|a, b| (a.2, a.0).cmp(&(b.2, b.0))),
            ),
            ("kind=eq.b", Box::new(|a, b| a.0.cmp(&b.0))),
            ("kind=eq.b&_id=gt.700", Box::new(|a, b| a.0.cmp(&b.0))),
            ("kind=eq.a&order=_id.desc", Box::new(|a, b| b.0.cmp(&a.0))),
            // seq ascends with `_id`, so day's index serves the order (`sort_keys`)
            (
                "order=day.desc,seq.desc",
                Box::new(|a, b| (b.2, b.1).cmp(&(a.2, a.1))),
            ),
            (
                "order=day.asc,seq.asc",
                Box::new(|a, b| (a.2, a.1).cmp(&(b.2, b.1))),
            ),
        ];
        for (case, cmp) in &cases {
            let mut params: Vec<(String, String)> = case
                .split('&')
                .map(|kv| kv.split_once('=').unwrap())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            params.push(("limit".into(), "61".into()));
            let mut want: Vec<&Rec> = rows
                .iter()
                .filter(|r| !case.contains("kind=eq.b") || r.4 == "b")
                .filter(|r| !case.contains("kind=eq.a") || r.4 == "a")
                .filter(|r| !case.contains("_id=gt.700") || r.0 > 700)
                .collect();
            want.sort_by(|a, b| cmp(a, b));
            let want: Vec<i64> = want.iter().map(|r| r.0).collect();
            let (got, plans) = follow(&db, &table, &params).await;
            assert_eq!(got, want, "{case}");
            assert!(plans.len() > 2, "{case}: {} pages", plans.len());
            for (_, plan) in plans {
                if case.starts_with("order=") {
                    assert!(plan.contains("USING INDEX"), "{case}: {plan}");
                }
                assert!(!plan.contains("TEMP B-TREE"), "{case}: sorted: {plan}");
            }
        }
    }

    /// The terms a statement sorts by: ascending fields (seq, day) running in `_id`'s direction
    /// just before it are dropped, never the first term; a field that is not ascending (rank,
    /// late) or runs the other way keeps itself and the terms before it.
    #[tokio::test]
    async fn sort_keys_drop_ascending_fields_before_the_final_id() {
        let (_dir, _db, table, _rows) = load().await;
        let cases: [(&str, &[usize]); 11] = [
            ("", &[0]),
            ("order=_id.desc", &[0]),
            ("order=seq.desc", &[0, 1]),
            ("order=day.desc,seq.desc", &[0, 2]),
            ("order=rank,day,seq", &[0, 3]),
            ("order=rank,seq,day", &[0, 3]),
            ("order=rank,day,late", &[0, 1, 2, 3]),
            // `_id` runs as the last term asked for
            ("order=day.desc,seq.asc", &[0, 2]),
            ("order=day.desc,seq.asc,_id.desc", &[0, 1, 2]),
            ("order=rank.desc,seq.asc,_id.desc", &[0, 1, 2]),
            ("order=rank,seq,_id", &[0, 2]),
        ];
        for (q, want) in cases {
            let params: Vec<(String, String)> = (q.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into_iter()
                .collect();
            let query = parse_records(table.schema(), TimeZone::default(), &params).unwrap();
            assert_eq!(sort_keys(&table, &query), want, "{q}");
        }
    }

    /// A declared index over `kind, note, rank` serves equalities on kind and note sorted by
    /// rank: SQLite is left to choose, takes it and sorts nothing, and every page followed by
    /// cursor is the test's own order. The filters match enough rows (8 000 of 20 000) that,
    /// without the declaration, the page walks the rank index instead.
    #[tokio::test]
    async fn a_declared_index_serves_equalities_sorted_by_its_next_field() {
        const ROWS: i64 = 20_000;
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (_dir, db, table, rows) =
            load_declaring(ROWS, vec![names(&["kind", "note", "rank"])]).await;
        let (_bare_dir, bare_db, bare, _) = load_declaring(ROWS, vec![]).await;
        let name = format!("{}_x0", table.layout.table);
        let built: Vec<String> = db
            .query_all(sea_orm::Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("SELECT sql FROM sqlite_master WHERE name = '{name}'"),
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index(0).unwrap())
            .collect();
        assert_eq!(built.len(), 1, "{name} was built");
        assert!(built[0].contains(r#"("c3", "c4", "c2")"#), "{}", built[0]);
        let parse = |q: &str| {
            let p: Vec<(String, String)> = (q.split('&'))
                .map(|kv| kv.split_once('=').unwrap())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            parse_records(table.schema(), TimeZone::default(), &p).unwrap()
        };
        let serves = |q: &str| declared_index_serves(&table, &parse(q));
        // Postgres plans a statement once only when nothing but the index's equalities filter
        let once = |q: &str| {
            let query = parse(q);
            (
                one_plan_serves(&table, &query),
                one_plan_counts(&table, &query.selection),
            )
        };
        assert_eq!(once("kind=eq.a&note=eq.x&order=rank.desc"), (true, true));
        assert_eq!(once("note=eq.x&kind=eq.a&order=rank,seq"), (true, true));
        assert_eq!(once("kind=eq.a&order=note"), (true, true));
        assert_eq!(
            once("kind=eq.a&note=eq.x&rank=eq.3"),
            (true, true),
            "by _id"
        );
        assert_eq!(
            once("kind=eq.a&note=eq.x"),
            (false, true),
            "rank not sought"
        );
        assert_eq!(
            once("note=eq.x&kind=eq.a&seq=gt.3&order=rank"),
            (false, false),
            "another filter"
        );
        assert_eq!(once("kind=eq.a&note=eq.x&order=seq"), (false, true));
        assert_eq!(once("note=eq.x&order=rank"), (false, false), "kind leads");
        assert_eq!(
            once("kind=eq.a&q=jalan&order=note"),
            (false, false),
            "words"
        );
        assert_eq!(once("order=rank"), (false, false), "no filter");
        // with a second index over the same leading fields, either index's order is served
        let mut two = table.clone();
        (two.layout.schema.indexes).push(names(&["kind", "note", "seq"]));
        for order in ["rank", "seq"] {
            let query = parse(&format!("kind=eq.a&note=eq.x&order={order}"));
            assert!(one_plan_serves(&two, &query), "order={order}");
            assert!(declared_index_serves(&two, &query), "order={order}");
        }
        assert!(serves("kind=eq.a&note=eq.x&order=rank.desc"));
        assert!(serves("note=eq.x&kind=eq.a&seq=gt.3&order=rank,seq"));
        assert!(serves("kind=eq.a&order=note"));
        assert!(!serves("note=eq.x&order=rank"), "kind leads");
        assert!(!serves("kind=eq.a&order=rank"), "note comes before rank");
        assert!(
            !serves("kind=gt.a&note=eq.x&order=rank"),
            "a range, not an equality"
        );
        assert!(
            !serves("kind=eq.a&note=eq.x"),
            "sorted by _id: rank is not sought"
        );
        for (dir, cmp) in [("desc", -1i64), ("asc", 1)] {
            let params: Vec<(String, String)> = [
                ("kind", "eq.a".to_owned()),
                ("note", "eq.jalan rusak".to_owned()),
                ("order", format!("rank.{dir}")),
                ("limit", "997".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let query = parse_records(bare.schema(), TimeZone::default(), &params).unwrap();
            assert_eq!(
                choose_access(&bare_db, &bare, &query).await.unwrap(),
                Access::WalkOrderIndex(ColRef::Field(2)),
                "undeclared: the rank index is walked"
            );
            let mut want: Vec<&Rec> = rows
                .iter()
                .filter(|r| r.4 == "a" && r.5 == "jalan rusak")
                .collect();
            want.sort_by_key(|r| (cmp * r.3, cmp * r.0));
            let want: Vec<i64> = want.iter().map(|r| r.0).collect();
            let (got, plans) = follow(&db, &table, &params).await;
            assert_eq!(got, want, "rank.{dir}");
            assert!(plans.len() > 2, "rank.{dir}: {} pages", plans.len());
            for (access, plan) in plans {
                assert_eq!(access, Access::Free, "rank.{dir}");
                assert!(plan.contains(&name), "rank.{dir}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "rank.{dir}: sorted: {plan}");
            }
        }
    }

    /// Ingestion keeps `sqlite_stat1` but no `sqlite_stat4` samples: with them, a statement
    /// binding a value compared with an indexed column prepares itself again every time.
    #[tokio::test]
    async fn page_statements_stay_prepared_across_bindings() {
        let (dir, _db, table, _rows) = load().await;
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let t = &table.layout.table;
        let stat1: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = ?1",
                [t],
                |r| r.get(0),
            )
            .unwrap();
        assert!(stat1 > 0, "statistics kept");
        let mut stmt = conn
            .prepare(&format!(
                "SELECT _id FROM \"{t}\" WHERE c3 = ?1 AND c2 > ?2 ORDER BY c2 LIMIT 5"
            ))
            .unwrap();
        for (kind, rank) in [("a", 10), ("b", 900), ("a", 1200)] {
            let ids: Vec<i64> = stmt
                .query_map(rusqlite::params![kind, rank], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(ids.len(), 5);
        }
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "prepared again on new bindings"
        );
    }

    /// Full-text pages whose order ascends with `_id` walk the index's matches in order (no sort
    /// of the matches); every page, followed by cursor to the end, is the test's own order.
    #[tokio::test]
    async fn matches_ordered_by_fields_ascending_with_the_rows_are_walked_in_order() {
        let (_dir, db, table, rows) = load().await;
        assert_eq!(table.layout.ascending, vec![0, 1], "seq and day only");
        let key = CursorKey::derive(b"test");
        let by_seq = |r: &Rec| r.1;
        let banjir = |r: &Rec| r.5.contains("banjir");
        let cases: Vec<(&str, Option<Dir>, Cmp)> = vec![
            (
                "order=seq.asc",
                Some(Dir::Asc),
                Box::new(move |a, b| by_seq(a).cmp(&by_seq(b))),
            ),
            (
                "order=seq.desc",
                Some(Dir::Desc),
                Box::new(move |a, b| by_seq(b).cmp(&by_seq(a))),
            ),
            (
                "order=day.desc,seq.desc",
                Some(Dir::Desc),
                Box::new(|a, b| (b.2, b.1).cmp(&(a.2, a.1))),
            ),
            (
                "order=day.asc",
                Some(Dir::Asc),
                Box::new(|a, b| (a.2, a.0).cmp(&(b.2, b.0))),
            ),
            (
                "order=_id.desc",
                Some(Dir::Desc),
                Box::new(|a, b| b.0.cmp(&a.0)),
            ),
            ("", Some(Dir::Asc), Box::new(|a, b| a.0.cmp(&b.0))),
            // an `_id` filter is a range the full-text index seeks to
            ("_id=gt.700", Some(Dir::Asc), Box::new(|a, b| a.0.cmp(&b.0))),
            // not walked: mixed directions, a descending field, a field ascending but once
            (
                "order=day.asc,seq.desc",
                None,
                Box::new(|a, b| (a.2, b.1).cmp(&(b.2, a.1))),
            ),
            ("order=rank.asc", None, Box::new(|a, b| a.3.cmp(&b.3))),
        ];
        for (order, walk, cmp) in &cases {
            for kind in [None, Some("b")] {
                let mut want: Vec<&Rec> = rows
                    .iter()
                    .filter(|r| banjir(r) && kind.is_none_or(|k| r.4 == k))
                    .filter(|r| !order.starts_with("_id=") || r.0 > 700)
                    .collect();
                want.sort_by(|a, b| cmp(a, b));
                let want: Vec<i64> = want.iter().map(|r| r.0).collect();
                let mut params = vec![("q".to_owned(), "banjir".to_owned())];
                if let Some((k, v)) = order.split_once('=') {
                    params.push((k.into(), v.into()));
                }
                if let Some(k) = kind {
                    params.push(("kind".into(), format!("eq.{k}")));
                }
                params.push(("limit".into(), "37".into()));
                let (got, pages) = follow(&db, &table, &params).await;
                for (access, plan) in pages {
                    let p = &params;
                    assert_eq!(
                        matches!(access, Access::WalkMatches(_)),
                        walk.is_some(),
                        "{p:?}: {access:?}"
                    );
                    if let Some(dir) = walk {
                        assert_eq!(access, Access::WalkMatches(*dir), "{p:?}");
                        assert!(!plan.contains("TEMP B-TREE"), "{p:?}: sorted: {plan}");
                        assert!(plan.contains("VIRTUAL TABLE"), "{p:?}: {plan}");
                        if order.starts_with("_id=") {
                            // FTS5's plan (`INDEX 64:M2>`) ends in its rowid bound
                            let fts = plan.lines().find(|l| l.contains("VIRTUAL TABLE")).unwrap();
                            assert!(fts.ends_with('>'), "{p:?}: {plan}");
                        }
                    }
                }
                assert_eq!(got, want, "{order} kind={kind:?}");
            }
        }
        // an offset counts matches in the walked order too
        let p: Vec<(String, String)> = [
            ("q", "banjir"),
            ("order", "seq.desc"),
            ("offset", "40"),
            ("limit", "5"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
        let query = parse_records(table.schema(), TimeZone::default(), &p).unwrap();
        let page = query_page(&db, &Default::default(), &key, &table, &query)
            .await
            .unwrap();
        let mut want: Vec<i64> = rows.iter().filter(|r| banjir(r)).map(|r| r.0).collect();
        want.reverse();
        assert_eq!(
            page.rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            want[40..45]
        );
    }

    async fn explain(
        db: &DatabaseConnection,
        table: &VersionTable,
        query: &RecordQuery,
        key: &CursorKey,
    ) -> String {
        let (_, _, mut stmt) = page_statement(db, key, table, query).await.unwrap();
        stmt.sql = format!("EXPLAIN QUERY PLAN {}", stmt.sql);
        db.query_all(stmt)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index::<String>(3).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
