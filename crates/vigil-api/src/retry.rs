//! Retrying a delivery (a log export's callback, its e-mail) on a fixed schedule.

use std::future::Future;
use std::time::Duration;

/// Runs `attempt` until it succeeds, pausing `pauses[i]` before retry `i + 1`. After the last attempt fails, its
/// error followed by how many attempts were made.
pub async fn with_retries<T, F, Fut>(pauses: &[Duration], mut attempt: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut last = String::new();
    for n in 0..=pauses.len() {
        if n > 0 {
            tokio::time::sleep(pauses[n - 1]).await;
        }
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(format!("{last} ({} attempts)", pauses.len() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_at_the_first_success_or_reports_the_last_error() {
        let pauses = [Duration::from_millis(10), Duration::from_millis(30)];
        let mut calls = 0;
        let ok = with_retries(&pauses, || {
            calls += 1;
            let n = calls;
            async move {
                if n == 2 {
                    Ok(n)
                } else {
                    Err(format!("failure {n}"))
                }
            }
        })
        .await;
        assert_eq!((ok, calls), (Ok(2), 2));
        let started = std::time::Instant::now();
        let mut calls = 0;
        let failed: Result<(), String> = with_retries(&pauses, || {
            calls += 1;
            let n = calls;
            async move { Err(format!("failure {n}")) }
        })
        .await;
        assert_eq!(failed, Err("failure 3 (3 attempts)".to_owned()));
        assert!(started.elapsed() >= Duration::from_millis(40), "both pauses were taken");
    }
}
