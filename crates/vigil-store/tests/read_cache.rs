//! The read caches in front of manifest, tag-list, repository and account lookups never show this process a value
//! older than its own last committed write, and show another process's writes within their time limit.

use std::time::Duration;

use bytes::Bytes;
use vigil_core::{Digest, RepoName, Tag};
use vigil_store::identity::{Account, AccountKind, IdentityChange, IdentityStore};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{ManifestRecord, MetadataStore, Mutation, NewManifest};

fn manifest(n: u32) -> NewManifest {
    let content = Bytes::from(format!("{{\"schemaVersion\":2,\"n\":{n}}}"));
    NewManifest::standalone("application/vnd.oci.image.manifest.v1+json", content)
}

async fn tag(store: &SqliteStore, repo: &RepoName, m: &NewManifest, t: &Tag) {
    let put = Mutation::PutManifest { repo: repo.clone(), manifest: m.clone(), tags: vec![t.clone()] };
    store.apply(put, Vec::new()).await.unwrap();
}

fn digest_of(found: Option<ManifestRecord>) -> Option<Digest> {
    found.map(|m| m.digest)
}

#[tokio::test]
async fn registry_lookups_follow_every_write_of_this_process_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap();
    let repo: RepoName = "acme/app".parse().unwrap();
    let latest: Tag = "latest".parse().unwrap();
    let (a, b) = (manifest(1), manifest(2));

    assert_eq!(digest_of(store.manifest_by_tag(&repo, &latest).await.unwrap()), None);
    tag(&store, &repo, &a, &latest).await;
    // The miss just above was cached; the push must not be hidden by it.
    assert_eq!(digest_of(store.manifest_by_tag(&repo, &latest).await.unwrap()), Some(a.digest.clone()));
    assert_eq!(digest_of(store.manifest_by_tag(&repo, &latest).await.unwrap()), Some(a.digest.clone()));
    tag(&store, &repo, &b, &latest).await;
    assert_eq!(digest_of(store.manifest_by_tag(&repo, &latest).await.unwrap()), Some(b.digest.clone()));
    assert_eq!(digest_of(store.manifest_by_digest(&repo, &a.digest).await.unwrap()), Some(a.digest.clone()));

    assert_eq!(store.tags(&repo, None, 100).await.unwrap(), vec!["latest".to_owned()]);
    let v1: Tag = "v1".parse().unwrap();
    tag(&store, &repo, &a, &v1).await;
    assert_eq!(store.tags(&repo, None, 100).await.unwrap(), vec!["latest".to_owned(), "v1".to_owned()]);
    assert_eq!(store.tags(&repo, Some("latest"), 100).await.unwrap(), vec!["v1".to_owned()]);
    store.apply(Mutation::DeleteTag { repo: repo.clone(), tag: latest.clone() }, Vec::new()).await.unwrap();
    assert_eq!(store.tags(&repo, None, 100).await.unwrap(), vec!["v1".to_owned()]);
    assert_eq!(digest_of(store.manifest_by_tag(&repo, &latest).await.unwrap()), None);
    // The same tag in another repository is another entry.
    let other: RepoName = "acme/other".parse().unwrap();
    assert!(!store.repository_exists(&other).await.unwrap());
    tag(&store, &other, &a, &latest).await;
    assert!(store.repository_exists(&other).await.unwrap(), "a new repository is seen at once");
    assert_eq!(digest_of(store.manifest_by_tag(&repo, &latest).await.unwrap()), None);
    assert_eq!(digest_of(store.manifest_by_tag(&other, &latest).await.unwrap()), Some(a.digest.clone()));
}

#[tokio::test]
async fn account_lookups_follow_every_write_of_this_process_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap();
    let alice = Account {
        id: "a1".into(),
        name: "alice".into(),
        kind: AccountKind::User,
        password_hash: None,
        is_admin: false,
        public: false,
        owner_id: None,
        created_at_ms: 1,
    };
    assert_eq!(store.account_by_id("a1").await.unwrap(), None);
    store.change(IdentityChange::CreateAccount(alice.clone()), Vec::new()).await.unwrap();
    assert_eq!(store.account_by_id("a1").await.unwrap(), Some(alice.clone()));
    store.change(IdentityChange::SetAdmin { account_id: "a1".into(), is_admin: true }, Vec::new()).await.unwrap();
    assert!(store.account_by_id("a1").await.unwrap().unwrap().is_admin);
    store.change(IdentityChange::DeleteAccount { account_id: "a1".into() }, Vec::new()).await.unwrap();
    assert_eq!(store.account_by_id("a1").await.unwrap(), None, "a deleted account is gone at once");
}

#[tokio::test]
async fn another_process_writes_are_seen_within_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    let server = SqliteStore::open(&path).await.unwrap();
    // A second store on the same file stands for the CLI: its writer's commits are invisible to the server's.
    let cli = SqliteStore::open(&path).await.unwrap();
    let repo: RepoName = "acme/app".parse().unwrap();
    let latest: Tag = "latest".parse().unwrap();
    let (a, b) = (manifest(1), manifest(2));
    tag(&server, &repo, &a, &latest).await;
    assert_eq!(digest_of(server.manifest_by_tag(&repo, &latest).await.unwrap()), Some(a.digest.clone()));
    tag(&cli, &repo, &b, &latest).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(digest_of(server.manifest_by_tag(&repo, &latest).await.unwrap()), Some(b.digest.clone()));
}
