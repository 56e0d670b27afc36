//! Reading records: [`RecordQuery`] → one parameterised sea-query statement → typed rows.
//!
//! Pages use a keyset predicate built from the cursor (never OFFSET past 10 000); exports stream
//! the whole result through a bounded channel so memory stays flat. Identifiers are the layout's
//! generated column names; every value is a bound parameter.
use chrono::{DateTime, FixedOffset, TimeZone as _, Utc};
use futures::StreamExt as _;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, QueryResult, StreamTrait};
use sea_query::extension::postgres::PgExpr;
use sea_query::{
    Alias, Asterisk, Condition, Expr, Func, LikeExpr, NullOrdering, Order, Query, SelectStatement,
    SimpleExpr, Value,
};

use super::cursor::{self, CursorKey, CursorPayload};
use super::encode::RowEncoder;
use super::layout::{Layout, TSVECTOR};
use super::pg_direct::GenericPlans;
use super::pg_lookup::Lookups;
use super::plan::{
    choose_access, fts_match, one_plan_counts, one_plan_serves, sort_keys, table_stats, Access, HIT,
};
use super::query::{
    col_type, AggregateQuery, ColRef, Dir, Filter, MetricFn, Op, OrderTerm, RecordQuery, Selection,
};
use super::sqlite_direct::Where;
use crate::domain::TimeZone;
use crate::error::{CatalogError, Result};
use crate::schema::{Cell, FieldType, TableSchema};

/// Most groups an aggregate may return.
pub const MAX_GROUPS: usize = 10_000;

/// A version's record table, as the read path needs it.
#[derive(Debug, Clone)]
pub struct VersionTable {
    pub version_id: i64,
    pub layout: Layout,
    pub timezone: TimeZone,
    /// The statement of a record by `_id` (SQLite), built on first use: the table, kept with
    /// the resolved version, never changes.
    lookup_sql: std::sync::OnceLock<String>,
}

impl VersionTable {
    pub fn new(version_id: i64, layout: Layout, timezone: TimeZone) -> Self {
        Self {
            version_id,
            layout,
            timezone,
            lookup_sql: std::sync::OnceLock::new(),
        }
    }

    pub fn schema(&self) -> &TableSchema {
        &self.layout.schema
    }
}

/// One record: its `_id` and the fetched fields' cells, in [`Fetch::fields`] order.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub cells: Vec<Cell>,
}

impl Row {
    /// An empty row to decode `fields` cells into.
    pub(super) fn for_fields(fields: usize) -> Self {
        Self {
            id: 0,
            cells: Vec::with_capacity(fields),
        }
    }
}

/// Bytes per chunk an export hands to the response.
const CHUNK: usize = 128 * 1024;

/// An export's output: encoded rows gathered into chunks of about [`CHUNK`] bytes. Shared by
/// the async exports ([`pump`]) and SQLite's blocking one (`sqlite_direct`).
pub(super) struct Chunker<E> {
    encoder: E,
    buf: Vec<u8>,
    /// The row each fetched row is decoded into (its strings are reused).
    pub row: Row,
}

impl<E: super::encode::RowEncoder> Chunker<E> {
    pub(super) fn new(mut encoder: E, fields: usize) -> Self {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        encoder.start(&mut buf);
        Self {
            encoder,
            buf,
            row: Row::for_fields(fields),
        }
    }

    /// Encodes [`Self::row`]; answers a chunk when one is full.
    pub(super) fn encode_row(&mut self) -> Option<bytes::Bytes> {
        self.encoder.row(&mut self.buf, &self.row);
        (self.buf.len() >= CHUNK).then(|| {
            bytes::Bytes::from(std::mem::replace(
                &mut self.buf,
                Vec::with_capacity(CHUNK + 4096),
            ))
        })
    }

    /// What to send last for an export that ended with `result` (`Ok(false)`: the client went
    /// away, nothing): the rest of the output, or the error that stopped it.
    pub(super) fn end(mut self, result: Result<bool>) -> Option<Result<bytes::Bytes>> {
        match result {
            Ok(true) => {
                self.encoder.finish(&mut self.buf);
                Some(Ok(bytes::Bytes::from(self.buf)))
            }
            Ok(false) => None,
            Err(e) => {
                tracing::error!(error = ?e, "export failed mid-stream");
                Some(Err(e))
            }
        }
    }
}

/// Which fields a statement fetches: the output ones first, then sort keys not in the output.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub fields: Vec<usize>,
    pub output: usize,
}

impl Fetch {
    fn new(table: &VersionTable, query: &RecordQuery) -> Self {
        let mut fields = query
            .select
            .clone()
            .unwrap_or_else(|| (0..table.schema().fields.len()).collect());
        let output = fields.len();
        for t in &query.order {
            if let ColRef::Field(i) = t.col {
                if !fields.contains(&i) {
                    fields.push(i);
                }
            }
        }
        Self { fields, output }
    }

    pub fn output_fields(&self) -> &[usize] {
        &self.fields[..self.output]
    }
}

pub struct Page {
    pub fetch: Fetch,
    pub rows: Vec<Row>,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
}

fn col(name: String) -> Expr {
    Expr::col(Alias::new(name))
}

fn col_expr(c: ColRef) -> Expr {
    match c {
        ColRef::Id => col("_id".into()),
        ColRef::Field(i) => col(Layout::col(i)),
    }
}

/// The stored (sortable) value of a cell: datetimes as UTC microseconds, dates as text.
fn stored_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::String(None),
        Cell::Int(i) => Value::BigInt(Some(*i)),
        Cell::Num(f) => Value::Double(Some(*f)),
        Cell::Bool(b) => Value::Bool(Some(*b)),
        Cell::Str(s) => Value::String(Some(Box::new(s.clone()))),
        Cell::Date(d) => Value::String(Some(Box::new(d.format("%Y-%m-%d").to_string()))),
        Cell::DateTime(dt) => Value::BigInt(Some(dt.timestamp_micros())),
    }
}

fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(super) fn filter_expr(backend: DatabaseBackend, f: &Filter, access: Access) -> SimpleExpr {
    let c = match access {
        Access::WalkOrderIndex(walked) if walked != f.col => {
            Expr::expr(Expr::cust_with_expr("+?", col_expr(f.col)))
        }
        // the same value (`_id = _hit`), which the full-text index can seek to
        Access::WalkMatches(_) if f.col == ColRef::Id => Expr::col(Alias::new(HIT)),
        _ => col_expr(f.col),
    };
    let one = || stored_value(&f.values[0]);
    match f.op {
        Op::Eq => c.eq(one()),
        Op::Neq => c.ne(one()),
        Op::Gt => c.gt(one()),
        Op::Gte => c.gte(one()),
        Op::Lt => c.lt(one()),
        Op::Lte => c.lte(one()),
        Op::In => c.is_in(f.values.iter().map(stored_value)),
        Op::IsNull => c.is_null(),
        Op::IsNotNull => c.is_not_null(),
        Op::Contains => {
            let Cell::Str(text) = &f.values[0] else {
                unreachable!("contains holds text")
            };
            match backend {
                // Backslash is Postgres' default LIKE escape; SQLite has none unless told.
                // Text columns sort by bytes (`COLLATE "C"`, see `Layout::create_table`), which
                // would fold only ASCII letters: the database's collation folds the others.
                DatabaseBackend::Postgres => {
                    Expr::expr(Expr::cust_with_expr(r#"$1 COLLATE "default""#, c))
                        .ilike(LikeExpr::new(like_pattern(text)))
                }
                _ => c.like(LikeExpr::new(like_pattern(text)).escape('\\')),
            }
        }
    }
}

fn selection_condition(
    backend: DatabaseBackend,
    table: &VersionTable,
    sel: &Selection,
    access: Access,
) -> Result<Condition> {
    let mut cond = Condition::all();
    for f in &sel.filters {
        cond = cond.add(filter_expr(backend, f, access));
    }
    if !sel.q.is_empty() {
        if table.layout.text_fields().is_empty() {
            return Err(CatalogError::bad_request(
                "q: this version has no text columns to search",
            ));
        }
        match backend {
            DatabaseBackend::Postgres => {
                cond = cond.add(match super::words::tsquery(&sel.q) {
                    Some(query) => Expr::cust_with_values(
                        format!("\"{TSVECTOR}\" @@ $1::tsquery"),
                        [Value::String(Some(Box::new(query)))],
                    ),
                    None => Expr::cust("FALSE"),
                });
            }
            _ => {
                let fts = table.layout.fts_table();
                let matches = fts_match(&fts, &sel.q);
                let in_matches = match access {
                    // the matches are the rows the statement starts from (`build_select`)
                    Access::WalkMatches(_) => None,
                    // few matches: the matching rowids, looked up by key
                    Access::Free => Some(
                        col("_id".into()).in_subquery(
                            Query::select()
                                .expr(Expr::cust("rowid"))
                                .from(Alias::new(&fts))
                                .and_where(matches)
                                .to_owned(),
                        ),
                    ),
                    // many: each row met on the sort index asks the index for its own rowid
                    Access::WalkOrderIndex(_) => Some(Expr::exists(
                        Query::select()
                            .expr(Expr::val(1))
                            .from(Alias::new(&fts))
                            .and_where(Expr::cust(format!(
                                "\"{fts}\".rowid = \"{}\".\"_id\"",
                                table.layout.table
                            )))
                            .and_where(matches)
                            .to_owned(),
                    )),
                };
                if let Some(e) = in_matches {
                    cond = cond.add(e);
                }
            }
        }
    }
    Ok(cond)
}

pub(super) fn is_nullable(schema: &TableSchema, c: ColRef) -> bool {
    match c {
        ColRef::Id => false,
        ColRef::Field(i) => schema.fields[i].nullable,
    }
}

/// Rows strictly after the cursor's sort key, with nulls ordered as the largest values.
fn keyset_condition(schema: &TableSchema, terms: &[OrderTerm], key: &[Option<Value>]) -> Condition {
    let uniform = terms.iter().all(|t| t.dir == terms[0].dir)
        && key.iter().all(Option::is_some)
        && terms.iter().all(|t| !is_nullable(schema, t.col));
    if uniform {
        let cols = Expr::tuple(terms.iter().map(|t| SimpleExpr::from(col_expr(t.col))));
        let vals = Expr::tuple(
            key.iter()
                .map(|v| SimpleExpr::Value(v.clone().expect("checked"))),
        );
        return Condition::all().add(match terms[0].dir {
            Dir::Asc => cols.gt(vals),
            Dir::Desc => cols.lt(vals),
        });
    }
    let mut any = Condition::any();
    for (k, term) in terms.iter().enumerate() {
        let mut branch = Condition::all();
        for (prev, v) in terms[..k].iter().zip(key) {
            branch = branch.add(match v {
                Some(v) => col_expr(prev.col).eq(v.clone()),
                None => col_expr(prev.col).is_null(),
            });
        }
        let c = col_expr(term.col);
        let after: Option<SimpleExpr> = match (term.dir, &key[k]) {
            (Dir::Asc, Some(v)) if is_nullable(schema, term.col) => Some(
                Condition::any()
                    .add(c.clone().gt(v.clone()))
                    .add(c.is_null())
                    .into(),
            ),
            (Dir::Asc, Some(v)) => Some(c.gt(v.clone())),
            (Dir::Asc, None) => None,
            (Dir::Desc, Some(v)) => Some(c.lt(v.clone())),
            (Dir::Desc, None) => Some(c.is_not_null()),
        };
        if let Some(after) = after {
            any = any.add(branch.add(after));
        }
    }
    any
}

fn cursor_json(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::DateTime(dt) => serde_json::Value::from(dt.timestamp_micros()),
        other => other.to_json(),
    }
}

fn cursor_value(ty: FieldType, v: &serde_json::Value) -> Result<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    let bad = cursor::forged;
    Ok(Some(match ty {
        FieldType::Integer | FieldType::Datetime => {
            Value::BigInt(Some(v.as_i64().ok_or_else(bad)?))
        }
        FieldType::Number => Value::Double(Some(v.as_f64().ok_or_else(bad)?)),
        FieldType::Boolean => Value::Bool(Some(v.as_bool().ok_or_else(bad)?)),
        FieldType::String | FieldType::Date => {
            Value::String(Some(Box::new(v.as_str().ok_or_else(bad)?.to_owned())))
        }
    }))
}

pub(super) fn select_columns(stmt: &mut SelectStatement, schema: &TableSchema, fields: &[usize]) {
    stmt.column(Alias::new("_id"));
    for &i in fields {
        stmt.column(Alias::new(Layout::col(i)));
        if schema.fields[i].field_type == FieldType::Datetime {
            stmt.column(Alias::new(Layout::off_col(i)));
        }
    }
}

fn sql_order(dir: Dir) -> Order {
    match dir {
        Dir::Asc => Order::Asc,
        Dir::Desc => Order::Desc,
    }
}

fn apply_order(stmt: &mut SelectStatement, schema: &TableSchema, terms: &[OrderTerm]) {
    for t in terms {
        let order = sql_order(t.dir);
        let c = match t.col {
            ColRef::Id => Alias::new("_id"),
            ColRef::Field(i) => Alias::new(Layout::col(i)),
        };
        if is_nullable(schema, t.col) {
            let nulls = if t.dir == Dir::Asc {
                NullOrdering::Last
            } else {
                NullOrdering::First
            };
            stmt.order_by_with_nulls(c, order, nulls);
        } else {
            stmt.order_by(c, order);
        }
    }
}

pub(super) fn decode_datetime(micros: i64, off: Option<i32>) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(off.unwrap_or(0)).unwrap_or(FixedOffset::east_opt(0)?);
    let utc = Utc.timestamp_micros(micros).single()?;
    Some(utc.with_timezone(&offset))
}

/// A fetched row, by column position: what [`decode_into`] reads.
pub(super) trait RowSource {
    fn int(&self, at: usize) -> Result<Option<i64>>;
    fn num(&self, at: usize) -> Result<Option<f64>>;
    fn boolean(&self, at: usize) -> Result<Option<bool>>;
    /// Appends a text value to `out`; `false` for null.
    fn text_into(&self, at: usize, out: &mut String) -> Result<bool>;
    /// A datetime's UTC offset in seconds (an `integer`, `int4` on Postgres).
    fn offset(&self, at: usize) -> Result<Option<i32>>;
}

impl RowSource for QueryResult {
    fn int(&self, at: usize) -> Result<Option<i64>> {
        Ok(self.try_get_by_index(at)?)
    }
    fn num(&self, at: usize) -> Result<Option<f64>> {
        Ok(self.try_get_by_index(at)?)
    }
    fn boolean(&self, at: usize) -> Result<Option<bool>> {
        Ok(self.try_get_by_index(at)?)
    }
    fn text_into(&self, at: usize, out: &mut String) -> Result<bool> {
        let text: Option<String> = self.try_get_by_index(at)?;
        Ok(text.map(|t| out.push_str(&t)).is_some())
    }
    fn offset(&self, at: usize) -> Result<Option<i32>> {
        Ok(self.try_get_by_index(at)?)
    }
}

/// Decodes `_id` and the fetched fields of a row laid out by [`select_columns`] into `row`,
/// replacing its cells; a text cell reuses the string its slot held (exports reuse one `Row`).
pub(super) fn decode_into(
    schema: &TableSchema,
    fields: &[usize],
    r: &impl RowSource,
    row: &mut Row,
) -> Result<()> {
    row.id = r.int(0)?.unwrap_or_default();
    row.cells.resize(fields.len(), Cell::Null);
    let mut at = 1usize;
    for (slot, &i) in row.cells.iter_mut().zip(fields) {
        *slot = match schema.fields[i].field_type {
            FieldType::Integer => r.int(at)?.map_or(Cell::Null, Cell::Int),
            FieldType::Number => r.num(at)?.map_or(Cell::Null, Cell::Num),
            FieldType::Boolean => r.boolean(at)?.map_or(Cell::Null, Cell::Bool),
            FieldType::String | FieldType::Date => {
                let mut text = match std::mem::replace(slot, Cell::Null) {
                    Cell::Str(s) => s,
                    _ => String::new(),
                };
                text.clear();
                if r.text_into(at, &mut text)? {
                    Cell::Str(text)
                } else {
                    Cell::Null
                }
            }
            FieldType::Datetime => {
                let micros = r.int(at)?;
                let off = r.offset(at + 1)?;
                at += 1;
                micros
                    .and_then(|m| decode_datetime(m, off))
                    .map_or(Cell::Null, Cell::DateTime)
            }
        };
        at += 1;
    }
    Ok(())
}

fn decode_row(schema: &TableSchema, fields: &[usize], r: &impl RowSource) -> Result<Row> {
    let mut row = Row::for_fields(fields.len());
    decode_into(schema, fields, r, &mut row)?;
    Ok(row)
}

fn build_select(
    backend: DatabaseBackend,
    table: &VersionTable,
    query: &RecordQuery,
    fetch: &Fetch,
    key: Option<&CursorPayload>,
    access: Access,
) -> Result<SelectStatement> {
    let schema = table.schema();
    let keys = sort_keys(table, query);
    let terms: Vec<OrderTerm> = keys.iter().map(|&k| query.order[k]).collect();
    let mut stmt = Query::select();
    if let Access::WalkMatches(_) = access {
        // `(SELECT rowid AS _hit FROM fts WHERE fts MATCH ?) CROSS JOIN t ON t._id = _hit`:
        // CROSS JOIN keeps the index outside; the subquery names nothing a field could name.
        let fts = table.layout.fts_table();
        let hits = Query::select()
            .expr_as(Expr::cust("rowid"), Alias::new(HIT))
            .from(Alias::new(&fts))
            .and_where(fts_match(&fts, &query.selection.q))
            .to_owned();
        stmt.from_subquery(hits, Alias::new("h")).cross_join(
            Alias::new(&table.layout.table),
            Expr::col((Alias::new(&table.layout.table), Alias::new("_id")))
                .equals((Alias::new("h"), Alias::new(HIT))),
        );
    } else {
        stmt.from(Alias::new(&table.layout.table));
    }
    select_columns(&mut stmt, schema, &fetch.fields);
    stmt.cond_where(selection_condition(
        backend,
        table,
        &query.selection,
        access,
    )?);
    if let Some(p) = key {
        if p.k.len() != query.order.len() {
            return Err(cursor::forged());
        }
        let values = query
            .order
            .iter()
            .zip(&p.k)
            .map(|(t, v)| cursor_value(col_type(schema, t.col), v))
            .collect::<Result<Vec<_>>>()?;
        if let Access::WalkMatches(dir) = access {
            // the last key is `_id` (see `id_order`)
            let last = values
                .last()
                .cloned()
                .flatten()
                .ok_or_else(cursor::forged)?;
            let hit = Expr::col(Alias::new(HIT));
            stmt.and_where(match dir {
                Dir::Asc => hit.gt(last),
                Dir::Desc => hit.lt(last),
            });
        } else {
            let values: Vec<_> = keys.iter().map(|&k| values[k].clone()).collect();
            stmt.cond_where(keyset_condition(schema, &terms, &values));
        }
    }
    if let Access::WalkMatches(dir) = access {
        stmt.order_by(Alias::new(HIT), sql_order(dir));
    } else {
        apply_order(&mut stmt, schema, &terms);
    }
    if query.offset > 0 {
        stmt.offset(u64::from(query.offset));
    }
    Ok(stmt)
}

fn decode_cursor(
    key: &CursorKey,
    table: &VersionTable,
    query: &RecordQuery,
) -> Result<(String, Option<CursorPayload>)> {
    let hash = cursor::query_hash(&query.fingerprint());
    let payload = query
        .cursor
        .as_deref()
        .map(|c| cursor::decode(key, c, table.version_id, &hash))
        .transpose()?;
    Ok((hash, payload))
}

/// The statement of a page (one row more than the page, to know whether another follows), with
/// the query's cursor hash and what it fetches.
pub(super) async fn page_statement(
    db: &DatabaseConnection,
    key: &CursorKey,
    table: &VersionTable,
    query: &RecordQuery,
) -> Result<(String, Fetch, sea_orm::Statement)> {
    let backend = db.get_database_backend();
    let (hash, after) = decode_cursor(key, table, query)?;
    let fetch = Fetch::new(table, query);
    let access = choose_access(db, table, query).await?;
    let mut stmt = build_select(backend, table, query, &fetch, after.as_ref(), access)?;
    stmt.limit(u64::from(query.page_size()) + 1);
    Ok((hash, fetch, backend.build(&stmt)))
}

/// One page of records as [`Row`]s, with the next cursor and, when asked, the total.
pub async fn query_page(
    db: &DatabaseConnection,
    plans: &GenericPlans,
    key: &CursorKey,
    table: &VersionTable,
    query: &RecordQuery,
) -> Result<Page> {
    let read = read_page(db, plans, key, table, query, KeepRows::default()).await?;
    let (KeepRows(rows), _) = read.page.finish();
    Ok(Page {
        fetch: read.fetch,
        rows,
        next_cursor: read.next_cursor,
        total: read.total,
    })
}

/// One page of records encoded by `encoder` as they are read (no [`Row`] kept per record),
/// with the next cursor and, when asked, the total.
pub async fn query_page_encoded<E: RowEncoder + Send + 'static>(
    db: &DatabaseConnection,
    plans: &GenericPlans,
    key: &CursorKey,
    table: &VersionTable,
    query: &RecordQuery,
    encoder: E,
) -> Result<EncodedPage> {
    let read = read_page(db, plans, key, table, query, encoder).await?;
    let (_, body) = read.page.finish();
    Ok(EncodedPage {
        body,
        next_cursor: read.next_cursor,
        total: read.total,
    })
}

/// A page encoded by [`query_page_encoded`].
pub struct EncodedPage {
    pub body: Vec<u8>,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
}

/// An encoder that keeps the rows themselves, for [`query_page`].
#[derive(Default)]
pub(super) struct KeepRows(pub Vec<Row>);

impl RowEncoder for KeepRows {
    fn row(&mut self, _: &mut Vec<u8>, row: &Row) {
        self.0.push(row.clone());
    }
}

/// A page's rows as they are read: each is decoded into [`Self::row`] (its strings reused) and
/// encoded, up to the page's size; the row past it only says that another page follows.
pub(super) struct PageBuilder<E> {
    encoder: E,
    body: Vec<u8>,
    size: usize,
    taken: usize,
    pub row: Row,
    /// The last row taken: the next cursor's sort key.
    last: Row,
    more: bool,
}

impl<E: RowEncoder> PageBuilder<E> {
    pub(super) fn new(mut encoder: E, fields: usize, size: usize) -> Self {
        // about 350 bytes a record in JSON on the benchmark's data: a page of 100 is written
        // without growing the buffer (a copy of what was written) more than once
        let mut body = Vec::with_capacity(size.min(100) * 512 + 256);
        encoder.start(&mut body);
        Self {
            encoder,
            body,
            size,
            taken: 0,
            row: Row::for_fields(fields),
            last: Row::for_fields(fields),
            more: false,
        }
    }

    /// Takes the row decoded into [`Self::row`]; `false` when it was the one past the page,
    /// and reading can stop.
    pub(super) fn take(&mut self) -> bool {
        if self.taken == self.size {
            self.more = true;
            return false;
        }
        self.encoder.row(&mut self.body, &self.row);
        std::mem::swap(&mut self.row, &mut self.last);
        self.taken += 1;
        true
    }

    /// Ends the output; the encoder (with whatever it kept) and the bytes written.
    pub(super) fn finish(mut self) -> (E, Vec<u8>) {
        self.encoder.finish(&mut self.body);
        (self.encoder, self.body)
    }

    /// Decodes and takes each of `rows` until the page is full.
    fn fill<'r, R: RowSource + 'r>(
        &mut self,
        schema: &TableSchema,
        fields: &[usize],
        rows: impl IntoIterator<Item = &'r R>,
    ) -> Result<()> {
        for r in rows {
            decode_into(schema, fields, r, &mut self.row)?;
            if !self.take() {
                break;
            }
        }
        Ok(())
    }
}

/// Reads a page into `encoder`: the statement, the next cursor (from the last row taken, when
/// one more followed) and the total.
#[tracing::instrument(skip_all, fields(version_id = table.version_id))]
async fn read_page<E: RowEncoder + Send + 'static>(
    db: &DatabaseConnection,
    plans: &GenericPlans,
    key: &CursorKey,
    table: &VersionTable,
    query: &RecordQuery,
    encoder: E,
) -> Result<ReadPage<E>> {
    let (hash, fetch, statement) = page_statement(db, key, table, query).await?;
    let mut page = PageBuilder::new(encoder, fetch.fields.len(), query.page_size() as usize);
    let bounded = one_plan_serves(table, query);
    let (schema, fields) = (table.schema(), &fetch.fields);
    if let Some(plan) = super::sqlite_direct::Plan::new(db, &statement) {
        let at = if bounded {
            Where::Inline
        } else {
            Where::Blocking
        };
        page = super::sqlite_direct::read_page(plan, table, fields, at, page).await?;
    } else if let Some(prepared) =
        super::pg_direct::prepare(db, &statement, bounded.then_some(plans))
    {
        page.fill(schema, fields, &prepared.fetch_all().await?)?;
    } else {
        // SQLite in memory (tests): through sea-orm
        page.fill(schema, fields, &db.query_all(statement).await?)?;
    }
    // a cursor continues after the last row taken (no page is empty by its size: limit >= 1)
    let next_cursor = (page.more && page.taken > 0).then(|| {
        let last = &page.last;
        let k = query
            .order
            .iter()
            .map(|t| match t.col {
                ColRef::Id => serde_json::Value::from(last.id),
                ColRef::Field(i) => {
                    let at = fetch
                        .fields
                        .iter()
                        .position(|f| *f == i)
                        .expect("sort keys are fetched");
                    cursor_json(&last.cells[at])
                }
            })
            .collect();
        cursor::encode(
            key,
            &CursorPayload {
                v: table.version_id,
                h: hash,
                k,
            },
        )
    });
    let total = if query.count {
        Some(count(db, plans, table, &query.selection).await?)
    } else {
        None
    };
    Ok(ReadPage {
        fetch,
        page,
        next_cursor,
        total,
    })
}

/// What [`read_page`] read.
struct ReadPage<E> {
    fetch: Fetch,
    page: PageBuilder<E>,
    next_cursor: Option<String>,
    total: Option<i64>,
}

/// How many records match a selection.
pub async fn count(
    db: &DatabaseConnection,
    plans: &GenericPlans,
    table: &VersionTable,
    sel: &Selection,
) -> Result<i64> {
    let backend = db.get_database_backend();
    let stmt = Query::select()
        .expr(Func::count(Expr::col(Asterisk)))
        .from(Alias::new(&table.layout.table))
        .cond_where(selection_condition(backend, table, sel, Access::Free)?)
        .to_owned();
    let statement = backend.build(&stmt);
    let generic = one_plan_counts(table, sel).then_some(plans);
    if let Some(prepared) = super::pg_direct::prepare(db, &statement, generic) {
        let rows = prepared.fetch_all().await?;
        let row = rows
            .first()
            .ok_or_else(|| CatalogError::Internal("count returned no row".into()))?;
        return Ok(sqlx::Row::try_get(row, 0)?);
    }
    let row = db
        .query_one(statement)
        .await?
        .ok_or_else(|| CatalogError::Internal("count returned no row".into()))?;
    Ok(row.try_get_by_index(0)?)
}

/// One record by `_id`; on Postgres through `lookups`, batched with other requests'.
pub async fn get_record(
    db: &DatabaseConnection,
    lookups: &Lookups,
    table: &VersionTable,
    id: i64,
) -> Result<Option<Row>> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        return lookups
            .get(db.get_postgres_connection_pool(), table, id)
            .await;
    }
    let fields: Vec<usize> = (0..table.schema().fields.len()).collect();
    let statement = || {
        let mut stmt = Query::select();
        stmt.from(Alias::new(&table.layout.table));
        select_columns(&mut stmt, table.schema(), &fields);
        stmt.and_where(col("_id".into()).eq(id));
        backend.build(&stmt)
    };
    // the same statement for every id: built once (W1 built it on every request)
    let sql = table.lookup_sql.get_or_init(|| statement().sql);
    if let Some(found) = super::sqlite_direct::get_record(db, sql, id, table, &fields) {
        return found;
    }
    match db.query_one(statement()).await? {
        Some(r) => Ok(Some(decode_row(table.schema(), &fields, &r)?)),
        None => Ok(None),
    }
}

/// Streams every matching row (no page size) in query order, encoded by `encode`, in chunks.
/// The work runs on its own task; memory is bounded by the channel.
pub fn export<E>(
    db: DatabaseConnection,
    key: CursorKey,
    table: VersionTable,
    query: RecordQuery,
    encoder: E,
) -> Result<impl futures::Stream<Item = Result<bytes::Bytes>>>
where
    E: super::encode::RowEncoder + Send + 'static,
{
    let backend = db.get_database_backend();
    let (_, after) = decode_cursor(&key, &table, &query)?;
    let fetch = Fetch::new(&table, &query);
    let stmt = build_select(
        backend,
        &table,
        &query,
        &fetch,
        after.as_ref(),
        Access::Free,
    )?;
    let statement = backend.build(&stmt);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes>>(8);
    if let Some(plan) = super::sqlite_direct::Plan::new(&db, &statement) {
        plan.spawn(table, fetch.fields, encoder, tx);
    } else if let Some(super::pg_direct::Prepared {
        pool, sql, args, ..
    }) = super::pg_direct::prepare(&db, &statement, None)
    {
        if statement.values.as_ref().is_none_or(|v| v.0.is_empty()) {
            let copy = copy_export(&db, &table, &query, &stmt, pool, sql);
            tokio::spawn(async move {
                let fields = &fetch.fields;
                super::pg_direct::export_by_copy(copy, &table, fields, encoder, &tx).await;
            });
            return Ok(receive(rx));
        }
        tokio::spawn(async move {
            let rows = sqlx::query_with(&sql, args)
                .fetch(&pool)
                .map(|r| r.map_err(CatalogError::from));
            pump(rows, &table, &fetch.fields, encoder, &tx).await;
        });
    } else {
        // SQLite in memory (tests): through sea-orm
        tokio::spawn(async move {
            match db.stream(statement).await {
                Ok(rows) => {
                    let rows = rows.map(|r| r.map_err(CatalogError::from));
                    pump(rows, &table, &fetch.fields, encoder, &tx).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                }
            }
        });
    }
    Ok(receive(rx))
}

/// How a Postgres export whose statement (`stmt`, run as `sql` on `pool`) binds no values runs
/// as `COPY` ([`super::pg_direct::export_by_copy`]): `COPY` takes no bound values, so exports
/// with a filter value, a cursor or an offset go as queries.
///
/// The whole table in `_id` order (no filter, no search, the default order) is read without
/// the `ORDER BY`: a sequential scan costs Postgres about half the CPU of the walk of the
/// primary key (1m rows: 0.28 against 0.48–0.59 s, `EXPLAIN ANALYZE`), and the server's CPU
/// bounded the export. The loader numbers a version's rows 1, 2, 3, … and writes them in that
/// order into a table made in the same transaction (where `COPY` appends and never looks for
/// free space earlier on), and a version's rows never change, so the scan meets them in that
/// order. That is checked, not assumed: each id must be the one after the last, from 1; should
/// one not be, the export goes on with the ordered statement from the last id sent.
///
/// Interleaved exports of the 1m-row benchmark (two servers on CPU 0, 24 exports): 150.7 MB/s
/// by a query, 184.6 MB/s by `COPY` and the unordered scan; per export the gateway's CPU fell
/// 11 %, Postgres' 18 %.
fn copy_export(
    db: &DatabaseConnection,
    table: &VersionTable,
    query: &RecordQuery,
    stmt: &SelectStatement,
    pool: sqlx::PgPool,
    sql: String,
) -> super::pg_direct::CopyExport {
    let whole_in_id_order = query.selection.filters.is_empty()
        && query.selection.q.is_empty()
        && sort_keys(table, query)
            .iter()
            .map(|&k| query.order[k])
            .eq([OrderTerm {
                col: ColRef::Id,
                dir: Dir::Asc,
            }]);
    if !whole_in_id_order {
        return super::pg_direct::CopyExport {
            pool,
            sql,
            in_id_order: None,
        };
    }
    let backend = DatabaseBackend::Postgres;
    let mut unordered = stmt.clone();
    unordered.clear_order_by();
    let ordered = stmt.clone();
    let db = db.clone();
    super::pg_direct::CopyExport {
        pool,
        sql: backend.build(&unordered).sql,
        in_id_order: Some(Box::new(move |last: i64| {
            let mut rest = ordered;
            rest.and_where(Expr::col(Alias::new("_id")).gt(last));
            super::pg_direct::prepare(&db, &backend.build(&rest), None)
        })),
    }
}

/// The chunks an export's task sends, as a stream.
fn receive(
    rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes>>,
) -> impl futures::Stream<Item = Result<bytes::Bytes>> {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// Encodes `rows` into chunks sent to `tx` (then an error, if one happens); returns when the
/// rows end or the receiver is gone.
async fn pump<R: RowSource, E: super::encode::RowEncoder>(
    rows: impl futures::Stream<Item = Result<R>>,
    table: &VersionTable,
    fields: &[usize],
    encoder: E,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
) {
    let mut out = Chunker::new(encoder, fields.len());
    let result = pump_into(rows, table, fields, &mut out, tx).await;
    if let Some(last) = out.end(result) {
        let _ = tx.send(last).await;
    }
}

/// Encodes `rows` into `out`, sending each full chunk to `tx`: `Ok(false)` when the receiver
/// is gone.
pub(super) async fn pump_into<R: RowSource, E: super::encode::RowEncoder>(
    rows: impl futures::Stream<Item = Result<R>>,
    table: &VersionTable,
    fields: &[usize],
    out: &mut Chunker<E>,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
) -> Result<bool> {
    let mut rows = std::pin::pin!(rows);
    while let Some(r) = rows.next().await {
        decode_into(table.schema(), fields, &r?, &mut out.row)?;
        if let Some(chunk) = out.encode_row() {
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(false); // the client went away
            }
        }
    }
    Ok(true)
}

/// Runs an aggregate; answers one JSON object per group.
#[tracing::instrument(skip_all, fields(version_id = table.version_id))]
pub async fn aggregate(
    db: &DatabaseConnection,
    table: &VersionTable,
    query: &AggregateQuery,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let backend = db.get_database_backend();
    let schema = table.schema();
    let mut stmt = Query::select();
    stmt.from(Alias::new(&table.layout.table));
    // SQLite groups by walking the group column's index, so that it need not sort: every row
    // is then a lookup from the index into the table, in index order, whether the filters
    // match it or not. When the statistics say the filters keep a small share of the rows,
    // grouping by `+col` (the same values, but not a column reference) lets SQLite find them
    // through a filter's index and sort only those: measured at 1m rows with the server's
    // pragmas (16 MiB cache, in-memory temp store), 940 → 259 ms for one category of eleven.
    // Without filters the index walk stays (sorting every row in memory: 1 263 ms, walking:
    // 1 137 ms).
    let by_value = backend == DatabaseBackend::Sqlite
        && query.selection.q.is_empty()
        && !query.selection.filters.is_empty()
        && match table_stats(db, &table.layout.table).await {
            Some(stats) => {
                let filters: Vec<&Filter> = query.selection.filters.iter().collect();
                stats
                    .estimate(&filters)
                    .is_some_and(|matches| matches < stats.rows / 4.0)
            }
            None => false,
        };
    for &g in &query.group_by {
        let c = Layout::col(g);
        stmt.column(Alias::new(&c));
        if by_value {
            stmt.add_group_by([Expr::cust(format!("+\"{c}\""))]);
        } else {
            stmt.group_by_col(Alias::new(&c));
        }
        stmt.order_by(Alias::new(c), Order::Asc);
    }
    for m in &query.metrics {
        let c = m.field.map(Layout::col).unwrap_or_default();
        let pg = backend == DatabaseBackend::Postgres;
        let sql = match m.func {
            MetricFn::Count => "COUNT(*)".to_owned(),
            MetricFn::Avg if pg => format!("CAST(AVG(\"{c}\") AS DOUBLE PRECISION)"),
            MetricFn::Avg => format!("AVG(\"{c}\")"),
            MetricFn::Sum if pg => format!("CAST(SUM(\"{c}\") AS DOUBLE PRECISION)"),
            MetricFn::Sum => {
                format!("CASE WHEN COUNT(\"{c}\") = 0 THEN NULL ELSE TOTAL(\"{c}\") END")
            }
            MetricFn::Min => format!("MIN(\"{c}\")"),
            MetricFn::Max => format!("MAX(\"{c}\")"),
        };
        stmt.expr(Expr::cust(sql));
    }
    stmt.cond_where(selection_condition(
        backend,
        table,
        &query.selection,
        Access::Free,
    )?);
    stmt.limit(MAX_GROUPS as u64 + 1);
    let rows = db.query_all(backend.build(&stmt)).await?;
    if rows.len() > MAX_GROUPS {
        return Err(CatalogError::bad_request(format!(
            "the aggregate has more than {MAX_GROUPS} groups; group by fewer or coarser columns, or filter"
        )));
    }
    let typed = |ty: FieldType, r: &QueryResult, at: usize| -> Result<serde_json::Value> {
        Ok(match ty {
            FieldType::Integer => r.try_get_by_index::<Option<i64>>(at)?.map(Cell::Int),
            FieldType::Number => r.try_get_by_index::<Option<f64>>(at)?.map(Cell::Num),
            FieldType::Boolean => r.try_get_by_index::<Option<bool>>(at)?.map(Cell::Bool),
            FieldType::String | FieldType::Date => {
                r.try_get_by_index::<Option<String>>(at)?.map(Cell::Str)
            }
            FieldType::Datetime => r
                .try_get_by_index::<Option<i64>>(at)?
                .and_then(|m| decode_datetime(m, Some(0)))
                .map(Cell::DateTime),
        }
        .unwrap_or(Cell::Null)
        .to_json())
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut obj = serde_json::Map::new();
        for (at, &g) in query.group_by.iter().enumerate() {
            obj.insert(
                schema.fields[g].name.clone(),
                typed(schema.fields[g].field_type, r, at)?,
            );
        }
        for (k, m) in query.metrics.iter().enumerate() {
            let at = query.group_by.len() + k;
            let value = match (m.func, m.field) {
                (MetricFn::Count, _) => serde_json::Value::from(r.try_get_by_index::<i64>(at)?),
                (MetricFn::Avg, _) => typed(FieldType::Number, r, at)?,
                (MetricFn::Sum, Some(f)) => {
                    let sum: Option<f64> = r.try_get_by_index(at)?;
                    match sum {
                        Some(s)
                            if schema.fields[f].field_type == FieldType::Integer
                                && s.abs() < 9.0e15 =>
                        {
                            serde_json::Value::from(s as i64)
                        }
                        Some(s) => Cell::Num(s).to_json(),
                        None => serde_json::Value::Null,
                    }
                }
                (_, Some(f)) => typed(schema.fields[f].field_type, r, at)?,
                (_, None) => serde_json::Value::Null,
            };
            obj.insert(m.output_name(schema), value);
        }
        out.push(obj);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows `1..=n`, each with one text cell, fed to a page of `size` the way a reader does.
    fn fill(size: usize, n: i64) -> PageBuilder<KeepRows> {
        let mut page = PageBuilder::new(KeepRows::default(), 1, size);
        for id in 1..=n {
            page.row.id = id;
            page.row.cells = vec![Cell::Str(format!("row {id}"))];
            if !page.take() {
                break;
            }
        }
        page
    }

    #[test]
    fn a_page_takes_its_size_and_notes_the_row_past_it() {
        let page = fill(2, 5);
        assert!(page.more, "a third row was read");
        assert_eq!(page.taken, 2);
        assert_eq!(
            page.last.id, 2,
            "the cursor continues after the last row taken"
        );
        assert!(matches!(&page.last.cells[0], Cell::Str(s) if s == "row 2"));
        let ids: Vec<i64> = page.finish().0 .0.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2]);

        let whole = fill(5, 5);
        assert!(!whole.more, "no row past the page: no next cursor");
        assert_eq!(whole.last.id, 5);

        let none = fill(0, 3);
        assert!(none.more && none.taken == 0, "nothing to continue from");
    }
}
