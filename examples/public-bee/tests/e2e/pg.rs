//! A PostgreSQL schema of one test's own on the shared test database.

use std::future::Future;

use sqlx::Connection;

/// Runs `body` with a URL whose connections use a fresh schema, then drops the schema,
/// even when `body` panics. `None` when the test database is not configured (the test is
/// then skipped by `bee_testkit`, or fails under CI).
pub(crate) async fn with_schema<F, Fut>(label: &str, body: F) -> Option<()>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = bee_testkit::database_url()?;
    let schema = bee_testkit::unique_name(label);
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();

    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let outcome = tokio::spawn(body(url)).await;

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    Some(())
}
