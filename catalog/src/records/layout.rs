//! The physical layout of a version's record table.
//!
//! Identifiers never come from user input: the table is `rec_<random hex>`, field `i` is column
//! `c<i>` (a datetime also has `c<i>_off`, its UTC offset in seconds, so values keep their zone),
//! and `_id` is the 1-based row number. DDL is built with sea-query where it can express it; the
//! full-text parts (FTS5, tsvector) are written here from the same generated identifiers.
use sea_orm::DatabaseBackend;
use sea_query::{
    Alias, ColumnDef, Index, IndexCreateStatement, PostgresQueryBuilder, SqliteQueryBuilder, Table,
    TableCreateStatement,
};

use crate::schema::{FieldType, TableSchema};

/// Text columns longer than this are served by the full-text index instead of a b-tree.
const MAX_INDEXED_TEXT: usize = 96;

/// Postgres: the column holding a row's words for full-text search (a GIN index serves it).
pub const TSVECTOR: &str = "_fts";

#[derive(Debug, Clone)]
pub struct Layout {
    pub table: String,
    pub schema: TableSchema,
    /// Fields (by position) whose values never decrease as `_id` grows and are never null, as
    /// ingestion found them: ordering by them is ordering by `_id`. Empty when not known.
    pub ascending: Vec<usize>,
}

impl Layout {
    pub fn new(table: String, schema: TableSchema) -> Self {
        Self {
            table,
            schema,
            ascending: vec![],
        }
    }

    /// The layout of a stored version: `ascending` names the fields found ascending.
    pub fn stored(table: String, schema: TableSchema, ascending: &[String]) -> Self {
        let ascending = ascending
            .iter()
            .filter_map(|name| schema.field_index(name))
            .collect();
        Self {
            table,
            schema,
            ascending,
        }
    }

    /// The names of the ascending fields, as stored with the version.
    pub fn ascending_names(&self) -> Vec<&str> {
        self.ascending
            .iter()
            .map(|i| self.schema.fields[*i].name.as_str())
            .collect()
    }

    pub fn fresh_table_name() -> String {
        format!("rec_{}", hex::encode(rand::random::<[u8; 8]>()))
    }

    pub fn fts_table(&self) -> String {
        format!("{}_fts", self.table)
    }

    pub fn col(i: usize) -> String {
        format!("c{i}")
    }

    pub fn off_col(i: usize) -> String {
        format!("c{i}_off")
    }

    /// The columns a loader writes, quoted, in the order it writes a row's values: `_id`, each
    /// field's column (a datetime's offset right after it), then, on Postgres, [`TSVECTOR`].
    pub fn loaded_columns(&self, backend: DatabaseBackend) -> Vec<String> {
        let mut cols = Vec::with_capacity(self.schema.fields.len() + 3);
        cols.push("\"_id\"".to_owned());
        for (i, f) in self.schema.fields.iter().enumerate() {
            cols.push(format!("\"{}\"", Self::col(i)));
            if f.field_type == FieldType::Datetime {
                cols.push(format!("\"{}\"", Self::off_col(i)));
            }
        }
        if self.has_tsvector(backend) {
            cols.push(format!("\"{TSVECTOR}\""));
        }
        cols
    }

    /// What turns a loaded table into a served one, by phase (the names loaders report): its
    /// b-tree indexes, then its full-text index. Run in the loading transaction.
    pub fn build_steps(
        &self,
        backend: DatabaseBackend,
        max_len: &[usize],
    ) -> [(&'static str, Vec<String>); 2] {
        let indexes = self
            .indexes(backend, max_len)
            .iter()
            .map(|idx| match backend {
                DatabaseBackend::Postgres => idx.to_string(PostgresQueryBuilder),
                _ => idx.to_string(SqliteQueryBuilder),
            })
            .collect();
        [
            ("indexing", indexes),
            ("full text", self.fts_statements(backend)),
        ]
    }

    /// Gathers the table's statistics. SQLite's help it choose between the per-column indexes,
    /// and the read path estimates matches from them (`plan::choose_access`): a full pass,
    /// under a second at 1m rows.
    ///
    /// On SQLite only `sqlite_stat1` is kept. The bundled SQLite is built with STAT4, whose
    /// samples (`sqlite_stat4`) make every statement that binds a value compared with an
    /// indexed column prepare itself again each time it runs, in case the value would change
    /// the plan: 12 % of the server's CPU under W2, on plans that stat1 already gets right
    /// (1m rows, uncached: W2 1.7k -> 2.0k req/s, W2c 400 -> 520).
    pub fn analyze_statement(&self, backend: DatabaseBackend) -> String {
        let t = &self.table;
        match backend {
            DatabaseBackend::Postgres => format!("ANALYZE \"{t}\""),
            _ => format!(
                "PRAGMA analysis_limit=0; ANALYZE \"{t}\"; DELETE FROM sqlite_stat4 WHERE tbl = '{t}'"
            ),
        }
    }

    /// Whether the table has a [`TSVECTOR`] column: on Postgres, when there is text to search.
    pub fn has_tsvector(&self, backend: DatabaseBackend) -> bool {
        backend == DatabaseBackend::Postgres && !self.text_fields().is_empty()
    }

    pub fn text_fields(&self) -> Vec<usize> {
        self.schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.field_type == FieldType::String)
            .map(|(i, _)| i)
            .collect()
    }

    pub fn create_table(&self, backend: DatabaseBackend) -> TableCreateStatement {
        let mut t = Table::create();
        t.table(Alias::new(&self.table));
        let id_type = match backend {
            // Exactly `INTEGER PRIMARY KEY` makes `_id` SQLite's rowid: no second index.
            DatabaseBackend::Sqlite => "INTEGER",
            _ => "BIGINT",
        };
        t.col(
            ColumnDef::new(Alias::new("_id"))
                .custom(Alias::new(id_type))
                .not_null()
                .primary_key(),
        );
        for (i, f) in self.schema.fields.iter().enumerate() {
            let mut c = ColumnDef::new(Alias::new(Self::col(i)));
            match f.field_type {
                FieldType::Integer | FieldType::Datetime => c.big_integer(),
                FieldType::Number => c.double(),
                FieldType::Boolean => c.boolean(),
                FieldType::String | FieldType::Date => c.text(),
            };
            if backend == DatabaseBackend::Postgres
                && matches!(f.field_type, FieldType::String | FieldType::Date)
            {
                // Byte order, as SQLite's BINARY, so both backends sort text alike whatever
                // the database's locale. A libc locale (even C.UTF-8, whose order is the same)
                // also compares through strcoll and without abbreviated keys; "C" compares
                // bytes. 1m rows, one index built alone: district 2.3 -> 1.9 s, (district,
                // category, reported_at) 3.5 -> 2.6 s (the whole import: the same within noise).
                c.extra("COLLATE \"C\"");
            }
            t.col(&mut c);
            if f.field_type == FieldType::Datetime {
                t.col(ColumnDef::new(Alias::new(Self::off_col(i))).integer());
            }
        }
        if self.has_tsvector(backend) {
            // the words of the row's text fields, written by the loader (`words::lexemes`)
            t.col(ColumnDef::new(Alias::new(TSVECTOR)).custom(Alias::new("tsvector")));
        }
        t.to_owned()
    }

    /// B-tree indexes that serve filters and sorts: one per field, ordered by the field then
    /// `_id` (the keyset tie-break), then the declared ones, ordered by their fields then `_id`.
    /// On Postgres `_id` is the index's last column. A SQLite index ends in the rowid, which
    /// `_id` is: naming it again would store it twice, and the planner already seeks and orders
    /// on it (`c = ? AND rowid > ?`, `ORDER BY c, _id` without a sort); 1m rows: the 9 indexes
    /// build in 0.5-1 s less.
    pub fn indexes(
        &self,
        backend: DatabaseBackend,
        max_len: &[usize],
    ) -> Vec<IndexCreateStatement> {
        self.schema
            .fields
            .iter()
            .enumerate()
            .filter(|(i, f)| Self::indexable(f.field_type, max_len.get(*i).copied().unwrap_or(0)))
            .map(|(i, _)| (format!("{}_{}", self.table, Self::col(i)), vec![i]))
            .chain(self.declared_indexes())
            .map(|(name, fields)| {
                let mut index = Index::create()
                    .name(name)
                    .table(Alias::new(&self.table))
                    .to_owned();
                for i in fields {
                    index.col(Alias::new(Self::col(i)));
                }
                if backend != DatabaseBackend::Sqlite {
                    index.col(Alias::new("_id"));
                }
                index
            })
            .collect()
    }

    /// Whether a field gets a b-tree index: text only when its longest value (`max_len`
    /// bytes) is short; longer text is served by the full-text index.
    pub fn indexable(field_type: FieldType, max_len: usize) -> bool {
        field_type != FieldType::String || max_len <= MAX_INDEXED_TEXT
    }

    /// The declared indexes over several fields (`{table}_x{n}`), as field positions; one over
    /// a single field is that field's own index.
    fn declared_indexes(&self) -> impl Iterator<Item = (String, Vec<usize>)> + '_ {
        self.declared_fields()
            .enumerate()
            .map(|(n, fields)| (format!("{}_x{n}", self.table), fields))
    }

    /// The fields of each declared index over several fields, as positions.
    pub fn declared_fields(&self) -> impl Iterator<Item = Vec<usize>> + '_ {
        self.schema
            .indexes
            .iter()
            .filter(|names| names.len() > 1)
            .map(|names| {
                names
                    .iter()
                    .filter_map(|name| self.schema.field_index(name))
                    .collect()
            })
    }

    /// Statements that build the full-text index once the rows are in.
    pub fn fts_statements(&self, backend: DatabaseBackend) -> Vec<String> {
        if self.text_fields().is_empty() {
            return vec![];
        }
        match backend {
            DatabaseBackend::Sqlite => {
                let fts = self.fts_table();
                let [create, hashsize] = self.fts5_create(&fts, &format!("'{}'", self.table));
                let rebuild = format!("INSERT INTO \"{fts}\"(\"{fts}\") VALUES('rebuild')");
                vec![create, hashsize, rebuild]
            }
            _ => vec![format!(
                "CREATE INDEX \"{}_fts\" ON \"{}\" USING GIN (_fts)",
                self.table, self.table
            )],
        }
    }

    /// SQLite: creates the FTS5 table `name` over the text fields, indexing the rows of
    /// `content` (`'table'` for this layout's table, whose `_id` is the rowid; `''` for a
    /// contentless index, filled by inserts); then readies it for a bulk build.
    pub fn fts5_create(&self, name: &str, content: &str) -> [String; 2] {
        let cols = self
            .text_fields()
            .iter()
            .map(|i| Self::col(*i))
            .collect::<Vec<_>>()
            .join(", ");
        [
            // `columnsize=0`: no table of each row's token counts, which only ranking (bm25)
            // reads and nothing here ranks (1m rows: 13 MB less to write).
            format!(
                "CREATE VIRTUAL TABLE \"{name}\" USING fts5({cols}, content={content}, content_rowid='_id', tokenize='unicode61 remove_diacritics 2', columnsize=0)"
            ),
            // Gathers 64 MiB of words before writing a segment (1 MiB by default): far fewer
            // segments to merge, the build in half the time (1m rows: 2.8 s → 1.3 s).
            format!(
                "INSERT INTO \"{name}\"(\"{name}\", rank) VALUES('hashsize', {})",
                64 << 20
            ),
        ]
    }

    pub fn drop_statements(&self, backend: DatabaseBackend) -> Vec<String> {
        let mut v = vec![];
        if backend == DatabaseBackend::Sqlite {
            v.push(format!("DROP TABLE IF EXISTS \"{}\"", self.fts_table()));
        }
        v.push(format!("DROP TABLE IF EXISTS \"{}\"", self.table));
        v
    }
}
