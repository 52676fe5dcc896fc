//! The content port's contract: what every metadata adapter must do with repositories of a format, assets and
//! package versions. Written against the ports, run here against SQLite; a PostgreSQL adapter runs the same
//! functions. Also: SQLite's `GLOB` (the audit queries' patterns) agrees with vigil's glob dialect.

use vigil_core::{Digest, Format, RepoName};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{
    Applied, Asset, ContentChange, ContentStore, Expect, MetadataStore, Mutation, NewManifest, PackageVersion,
    RepoSettings, StoreError,
};

fn asset(path: &str, content: &str) -> Asset {
    Asset {
        path: path.to_owned(),
        digest: Digest::sha256_of(content.as_bytes()),
        size: content.len() as u64,
        media_type: "text/plain".to_owned(),
        package: None,
        version: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

async fn change<S: MetadataStore>(store: &S, c: ContentChange) -> Result<Applied, StoreError> {
    store.apply(Mutation::Content(c), Vec::new()).await.map(|(a, _)| a)
}

fn put(repo: &RepoName, a: Asset, expect: Expect) -> ContentChange {
    ContentChange::PutAsset { repo: repo.clone(), asset: a, expect }
}

async fn repositories_have_a_format<S: MetadataStore + ContentStore>(store: &S) {
    let raw: RepoName = "acme/files".parse().unwrap();
    let create = |repo: &RepoName, format, allow_overwrite| ContentChange::CreateRepository {
        repo: repo.clone(),
        format,
        settings: RepoSettings { allow_overwrite },
    };
    change(store, create(&raw, Format::Raw, false)).await.unwrap();
    let err = change(store, create(&raw, Format::Raw, true)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let info = store.repository(&raw).await.unwrap().unwrap();
    assert_eq!((info.format, info.settings.allow_overwrite, info.declared), (Format::Raw, false, true));

    // OCI never writes into another format's repository, and does not list it.
    let m = NewManifest::standalone("application/vnd.oci.image.manifest.v1+json", "{}".into());
    let err = store.apply(Mutation::PutManifest { repo: raw.clone(), manifest: m.clone(), tags: vec![] }, vec![]);
    assert!(matches!(err.await.unwrap_err(), StoreError::WrongFormat(_)));
    let oci: RepoName = "acme/app".parse().unwrap();
    store.apply(Mutation::PutManifest { repo: oci.clone(), manifest: m, tags: vec![] }, vec![]).await.unwrap();
    assert_eq!(store.catalog(None, 10).await.unwrap(), vec!["acme/app".to_owned()]);
    assert!(!store.repository_exists(&raw).await.unwrap() && store.repository_exists(&oci).await.unwrap());
    let pushed = store.repository(&oci).await.unwrap().unwrap();
    assert_eq!((pushed.format, pushed.declared), (Format::Oci, false), "a first push creates an OCI repository");
    let names = |v: Vec<vigil_store::RepositoryInfo>| v.into_iter().map(|r| r.name.to_string()).collect::<Vec<_>>();
    assert_eq!(names(store.repositories(None, None, 10).await.unwrap()), ["acme/app", "acme/files"]);
    assert_eq!(names(store.repositories(Some(Format::Raw), None, 10).await.unwrap()), ["acme/files"]);
    assert_eq!(names(store.repositories(None, Some("acme/app"), 10).await.unwrap()), ["acme/files"]);
}

async fn assets_follow_expectations_and_the_overwrite_rule<S: MetadataStore + ContentStore>(store: &S) {
    let repo: RepoName = "acme/files".parse().unwrap();
    let open: RepoName = "acme/open".parse().unwrap();
    let settings = RepoSettings { allow_overwrite: true };
    change(store, ContentChange::CreateRepository { repo: open.clone(), format: Format::Raw, settings }).await.unwrap();

    let missing: RepoName = "acme/none".parse().unwrap();
    let err = change(store, put(&missing, asset("a", "x"), Expect::Any)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "assets need a repository: {err:?}");

    let v1 = asset("docs/a.txt", "one");
    let done = change(store, put(&repo, v1.clone(), Expect::Absent)).await.unwrap();
    assert_eq!(done, Applied::Asset { replaced: None });
    let err = change(store, put(&repo, v1.clone(), Expect::Absent)).await.unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed(_)), "{err:?}");
    // The same content again is no overwrite.
    assert_eq!(change(store, put(&repo, v1.clone(), Expect::Any)).await.unwrap(), Applied::Asset { replaced: None });
    let v2 = asset("docs/a.txt", "two");
    let err = change(store, put(&repo, v2.clone(), Expect::Any)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "overwrite refused: {err:?}");
    assert_eq!(store.asset(&repo, "docs/a.txt").await.unwrap().unwrap().digest, v1.digest);

    change(store, put(&open, v1.clone(), Expect::Any)).await.unwrap();
    let err = change(store, put(&open, v2.clone(), Expect::Digest(v2.digest.clone()))).await.unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed(_)), "If-Match names the current content: {err:?}");
    let done = change(store, put(&open, v2.clone(), Expect::Digest(v1.digest.clone()))).await.unwrap();
    assert_eq!(done, Applied::Asset { replaced: Some(v1.digest.clone()) });
    let stored = store.asset(&open, "docs/a.txt").await.unwrap().unwrap();
    assert_eq!((stored.digest, stored.size), (v2.digest.clone(), 3));

    for p in ["docs/b.txt", "docs/sub/c.txt", "docs0", "doc", "top.txt"] {
        change(store, put(&repo, asset(p, p), Expect::Absent)).await.unwrap();
    }
    let paths = |v: Vec<Asset>| v.into_iter().map(|a| a.path).collect::<Vec<_>>();
    assert_eq!(
        paths(store.assets(&repo, "docs/", None, 10).await.unwrap()),
        ["docs/a.txt", "docs/b.txt", "docs/sub/c.txt"]
    );
    assert_eq!(paths(store.assets(&repo, "docs/", Some("docs/a.txt"), 1).await.unwrap()), ["docs/b.txt"]);
    assert_eq!(paths(store.assets(&repo, "", None, 100).await.unwrap()).len(), 6);

    let err = change(
        store,
        ContentChange::DeleteAsset {
            repo: repo.clone(),
            path: "top.txt".into(),
            expect: Expect::Digest(v1.digest.clone()),
        },
    );
    assert!(matches!(err.await.unwrap_err(), StoreError::PreconditionFailed(_)));
    let done =
        change(store, ContentChange::DeleteAsset { repo: repo.clone(), path: "top.txt".into(), expect: Expect::Any });
    assert_eq!(done.await.unwrap(), Applied::Asset { replaced: Some(Digest::sha256_of(b"top.txt")) });
    let err =
        change(store, ContentChange::DeleteAsset { repo: repo.clone(), path: "top.txt".into(), expect: Expect::Any });
    assert!(matches!(err.await.unwrap_err(), StoreError::NotFound(_)));

    // Garbage collection keeps every blob an asset is; deleting the repository releases them.
    assert!(store.collectable_blobs(i64::MAX).await.unwrap().iter().all(|b| b.digest != v1.digest));
    change(store, ContentChange::DeleteRepository { repo: repo.clone() }).await.unwrap();
    assert!(store.repository(&repo).await.unwrap().is_none());
    assert!(store.asset(&repo, "docs/a.txt").await.unwrap().is_none());
    let collectable = store.collectable_blobs(i64::MAX).await.unwrap();
    assert!(collectable.iter().any(|b| b.digest == Digest::sha256_of(b"docs0")), "{collectable:?}");
    assert!(collectable.iter().all(|b| b.digest != v2.digest), "acme/open still holds it");
}

async fn versions_carry_metadata_and_their_assets<S: MetadataStore + ContentStore>(store: &S) {
    let repo: RepoName = "acme/pkgs".parse().unwrap();
    let settings = RepoSettings::default();
    change(store, ContentChange::CreateRepository { repo: repo.clone(), format: Format::Npm, settings }).await.unwrap();
    for v in ["1.0.0", "1.1.0"] {
        let version = PackageVersion {
            package: "left-pad".into(),
            version: v.into(),
            metadata: format!("{{\"v\":\"{v}\"}}"),
            created_at_ms: 0,
        };
        change(store, ContentChange::PutVersion { repo: repo.clone(), version, create_only: true }).await.unwrap();
        let mut a = asset(&format!("left-pad/-/left-pad-{v}.tgz"), v);
        (a.package, a.version) = (Some("left-pad".into()), Some(v.into()));
        change(store, put(&repo, a, Expect::Absent)).await.unwrap();
    }
    let versions = store.versions(&repo, "left-pad").await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["1.0.0", "1.1.0"]);
    assert_eq!(versions[0].metadata, r#"{"v":"1.0.0"}"#);
    let del = ContentChange::DeleteVersion { repo: repo.clone(), package: "left-pad".into(), version: "1.0.0".into() };
    change(store, del.clone()).await.unwrap();
    assert!(matches!(change(store, del).await.unwrap_err(), StoreError::NotFound(_)));
    assert_eq!(store.versions(&repo, "left-pad").await.unwrap().len(), 1);
    assert!(store.asset(&repo, "left-pad/-/left-pad-1.0.0.tgz").await.unwrap().is_none(), "its files go with it");
    assert!(store.asset(&repo, "left-pad/-/left-pad-1.1.0.tgz").await.unwrap().is_some());
}

fn version(package: &str, v: &str) -> PackageVersion {
    PackageVersion {
        package: package.into(),
        version: v.into(),
        metadata: format!("{{\"v\":\"{v}\"}}"),
        created_at_ms: 0,
    }
}

fn tag(repo: &RepoName, tag: &str, version: Option<&str>) -> ContentChange {
    ContentChange::SetPackageTag {
        repo: repo.clone(),
        package: "is-odd".into(),
        tag: tag.into(),
        version: version.map(Into::into),
    }
}

/// A publish is one change (version, file, tag) that commits whole or not at all; tags follow their versions.
async fn publishes_commit_whole_and_tags_follow_versions<S: MetadataStore + ContentStore>(store: &S) {
    let repo: RepoName = "acme/npm".parse().unwrap();
    let settings = RepoSettings::default();
    change(store, ContentChange::CreateRepository { repo: repo.clone(), format: Format::Npm, settings }).await.unwrap();
    let publish = |v: &str| {
        let mut a = asset(&format!("is-odd/-/is-odd-{v}.tgz"), v);
        (a.package, a.version) = (Some("is-odd".into()), Some(v.into()));
        ContentChange::All(vec![
            ContentChange::PutVersion { repo: repo.clone(), version: version("is-odd", v), create_only: true },
            put(&repo, a, Expect::Absent),
            tag(&repo, "latest", Some(v)),
        ])
    };
    change(store, publish("1.0.0")).await.unwrap();
    change(store, publish("2.0.0")).await.unwrap();
    // The same version again: nothing of it is written, the tag included.
    let mut again = publish("2.0.0");
    if let ContentChange::All(parts) = &mut again {
        parts[2] = tag(&repo, "beta", Some("2.0.0"));
    }
    assert!(matches!(change(store, again).await.unwrap_err(), StoreError::Conflict(_)));
    assert_eq!(store.package_tags(&repo, "is-odd").await.unwrap(), [("latest".to_owned(), "2.0.0".to_owned())]);
    // Replacing metadata (a deprecation) is not a conflict and keeps the version.
    let mut deprecated = version("is-odd", "1.0.0");
    deprecated.metadata = r#"{"deprecated":"use 2"}"#.into();
    change(store, ContentChange::PutVersion { repo: repo.clone(), version: deprecated, create_only: false })
        .await
        .unwrap();
    assert_eq!(store.versions(&repo, "is-odd").await.unwrap()[0].metadata, r#"{"deprecated":"use 2"}"#);
    assert!(matches!(change(store, tag(&repo, "next", Some("9.9.9"))).await.unwrap_err(), StoreError::NotFound(_)));
    assert!(matches!(change(store, tag(&repo, "next", None)).await.unwrap_err(), StoreError::NotFound(_)));
    change(store, tag(&repo, "old", Some("1.0.0"))).await.unwrap();
    let del = ContentChange::DeleteVersion { repo: repo.clone(), package: "is-odd".into(), version: "1.0.0".into() };
    change(store, del).await.unwrap();
    assert_eq!(store.package_tags(&repo, "is-odd").await.unwrap().len(), 1, "the tag naming 1.0.0 went with it");
    let other =
        ContentChange::PutVersion { repo: repo.clone(), version: version("Is-Even", "1.0.0"), create_only: true };
    change(store, other).await.unwrap();
    assert_eq!(store.packages(&repo, None, None, 10).await.unwrap(), ["Is-Even", "is-odd"]);
    assert_eq!(store.packages(&repo, Some("IS-E"), None, 10).await.unwrap(), ["Is-Even"]);
    assert_eq!(store.packages(&repo, Some("%"), None, 10).await.unwrap(), Vec::<String>::new());
    assert_eq!(store.packages(&repo, None, Some("Is-Even"), 10).await.unwrap(), ["is-odd"]);
    change(store, ContentChange::DeletePackage { repo: repo.clone(), package: "is-odd".into() }).await.unwrap();
    assert!(store.versions(&repo, "is-odd").await.unwrap().is_empty());
    assert!(store.package_tags(&repo, "is-odd").await.unwrap().is_empty());
    assert!(store.asset(&repo, "is-odd/-/is-odd-2.0.0.tgz").await.unwrap().is_none());
    let gone = ContentChange::DeletePackage { repo: repo.clone(), package: "is-odd".into() };
    assert!(matches!(change(store, gone).await.unwrap_err(), StoreError::NotFound(_)));
}

#[tokio::test]
async fn sqlite_keeps_the_content_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap();
    repositories_have_a_format(&store).await;
    assets_follow_expectations_and_the_overwrite_rule(&store).await;
    versions_carry_metadata_and_their_assets(&store).await;
    publishes_commit_whole_and_tags_follow_versions(&store).await;
}

/// One glob dialect: what a sink filter matches in Rust (`vigil_core::glob`) is what an audit query matches with
/// SQLite's `GLOB`, pattern for pattern.
#[tokio::test]
async fn sqlite_glob_and_the_rust_matcher_agree() {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
    let patterns = ["acme/*", "*", "a?c", "v[0-9]*", "v[^0-9]", "*/app", "{a,b}", r"a\b", "GET", "[]x]", "a*b*c"];
    let texts = [
        "acme/app",
        "acme/team/app",
        "abc",
        "aXc",
        "v1.2",
        "vx",
        "v7",
        "x/app",
        "{a,b}",
        "a",
        r"a\b",
        "GET",
        "get",
        "]",
        "x",
        "aXbYc",
        "",
        "acme",
    ];
    for p in patterns {
        let glob = vigil_core::glob::Glob::new(p).unwrap();
        for t in texts {
            let sql: bool = sqlx::query_scalar("SELECT ? GLOB ?").bind(t).bind(p).fetch_one(&mut db).await.unwrap();
            assert_eq!(glob.matches(t), sql, "pattern {p:?} on {t:?}: Rust and SQLite disagree");
        }
    }
}
