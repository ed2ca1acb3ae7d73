//! What the store needs of a sqlx driver, in one trait: [`Dialect`], implemented for
//! `sqlx::Postgres` (postgres.rs) and `sqlx::Sqlite` (sqlite.rs). The store's code is generic
//! over it (`SqlJobStore<D: Dialect>`), so each query and transaction is written once.
//!
//! Rust does not carry a trait's `where` clauses (`Uuid: Encode<'_, D>`, …) to the code that
//! names the trait, only its supertraits. So each capability is a small trait on the database
//! type with a blanket impl that holds the sqlx bounds ([`Bind`], [`Get`], [`Execute`]), and
//! [`Dialect`] lists, as supertraits, exactly the column types the store binds and reads.
//! These traits are public only because `SqlJobStore<D>` is; the module is private.

use std::collections::BTreeMap;

use docfleet_core::job::JobOptions;
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use uuid::Uuid;

use crate::sql::Queries;

/// A database the job store runs on: its SQL, how it starts a write transaction, and the
/// column types the store binds ([`Bind`]) and reads ([`Get`]).
pub trait Dialect:
    Database
    + Execute
    + for<'a> Bind<'a, &'a str>
    + for<'a> Bind<'a, Option<&'a str>>
    + for<'a> Bind<'a, Uuid>
    + for<'a> Bind<'a, Option<Uuid>>
    + for<'a> Bind<'a, i64>
    + for<'a> Bind<'a, Option<i64>>
    + for<'a> Bind<'a, i32>
    + for<'a> Bind<'a, Option<i32>>
    + for<'a> Bind<'a, bool>
    + for<'a> Bind<'a, Json<&'a JobOptions>>
    + for<'a> Bind<'a, Json<&'a BTreeMap<String, u64>>>
    + for<'a> Bind<'a, Option<Json<&'a BTreeMap<String, u64>>>>
    + for<'a> Bind<'a, Json<&'a Vec<String>>>
    + Get<String>
    + Get<Option<String>>
    + Get<Uuid>
    + Get<Option<Uuid>>
    + Get<i64>
    + Get<Option<i64>>
    + Get<i32>
    + Get<Option<i32>>
    + Get<Json<serde_json::Value>>
    + Get<Option<Json<BTreeMap<String, u64>>>>
    + Get<Option<Json<Vec<String>>>>
{
    /// Every job and document-lock query, in this dialect (sql.rs).
    const QUERIES: Queries;

    /// The statement that opens `lease_next`'s transaction; `None` for the driver's plain
    /// `BEGIN`.
    const BEGIN_WRITE: Option<&'static str>;

    /// Rows changed by an `INSERT`, `UPDATE` or `DELETE` (each driver has its own result type).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// `T` can be bound as a query parameter (`'a`: how long a borrowed `T` lives).
pub trait Bind<'a, T>: Database {
    fn bind<'q>(
        query: Query<'q, Self, Self::Arguments>,
        value: T,
    ) -> Query<'q, Self, Self::Arguments>;
}

impl<'a, D: Database, T> Bind<'a, T> for D
where
    T: Encode<'a, D> + Type<D>,
{
    fn bind<'q>(query: Query<'q, D, D::Arguments>, value: T) -> Query<'q, D, D::Arguments> {
        query.bind(value)
    }
}

/// A column can be read as `T`, by name or by position.
pub trait Get<T>: Database {
    fn get(row: &Self::Row, column: &str) -> sqlx::Result<T>;
    fn get_at(row: &Self::Row, index: usize) -> sqlx::Result<T>;
}

impl<D: Database, T> Get<T> for D
where
    T: for<'r> Decode<'r, D> + Type<D>,
    for<'n> &'n str: ColumnIndex<D::Row>,
    usize: ColumnIndex<D::Row>,
{
    fn get(row: &D::Row, column: &str) -> sqlx::Result<T> {
        row.try_get(column)
    }

    fn get_at(row: &D::Row, index: usize) -> sqlx::Result<T> {
        row.try_get(index)
    }
}

/// The pool and a transaction's connection can run queries.
pub trait Execute: Database<Arguments: IntoArguments<Self>> {
    fn on_pool(pool: &Pool<Self>) -> impl Executor<'_, Database = Self>;
    fn on_connection(connection: &mut Self::Connection) -> impl Executor<'_, Database = Self>;
}

impl<D: Database> Execute for D
where
    D::Arguments: IntoArguments<D>,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
{
    fn on_pool(pool: &Pool<D>) -> impl Executor<'_, Database = D> {
        pool
    }

    fn on_connection(connection: &mut D::Connection) -> impl Executor<'_, Database = D> {
        connection
    }
}

/// `query.param(value)`: `Query::bind` for a [`Dialect`]'s column types.
pub trait Params<D: Database>: Sized {
    fn param<'a, T>(self, value: T) -> Self
    where
        D: Bind<'a, T>;
}

impl<D: Database> Params<D> for Query<'_, D, D::Arguments> {
    fn param<'a, T>(self, value: T) -> Self
    where
        D: Bind<'a, T>,
    {
        D::bind(self, value)
    }
}

/// A row's columns, read as sqlx's `Row::try_get` does: `Columns::<D>(&row).get("state")`.
pub struct Columns<'r, D: Database>(pub &'r D::Row);

impl<D: Database> Columns<'_, D> {
    pub fn get<T>(&self, column: &str) -> sqlx::Result<T>
    where
        D: Get<T>,
    {
        D::get(self.0, column)
    }

    pub fn get_at<T>(&self, index: usize) -> sqlx::Result<T>
    where
        D: Get<T>,
    {
        D::get_at(self.0, index)
    }
}
