//! Sink filters: each drops the events it matches. Within a filter the fields combine with AND and the values of
//! one field with OR; an empty field matches everything. `endpoints`, `stages` and `operations` (HTTP verbs) are
//! Nomad's; the rest name fields of vigil's own event. Every value is a glob in vigil's one dialect (`vigil_core::glob`: `*` any run, `?` one
//! character, `[...]` a class), the same the audit queries use.
//! Query strings are ignored when matching endpoints. Filters never apply to the journal itself.

use serde::{Deserialize, Serialize};
use vigil_core::glob::Glob;

use crate::view::EventView;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterSettings {
    /// Nomad's filter type; only `HTTPEvent` exists, and it is optional here.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub endpoints: Vec<String>,
    /// `received`, `complete` (Nomad's `OperationReceived`, `OperationComplete` too) or `*`.
    pub stages: Vec<String>,
    /// HTTP verbs.
    pub operations: Vec<String>,
    /// vigil operations: `GetManifest`, `PutManifest`, ...
    pub api_operations: Vec<String>,
    pub actions: Vec<String>,
    pub kinds: Vec<String>,
    pub registries: Vec<String>,
    pub outcomes: Vec<String>,
    pub users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    endpoints: Vec<Glob>,
    stages: Vec<Glob>,
    operations: Vec<Glob>,
    api_operations: Vec<Glob>,
    actions: Vec<Glob>,
    kinds: Vec<Glob>,
    registries: Vec<Glob>,
    outcomes: Vec<Glob>,
    users: Vec<Glob>,
}

fn globs(values: &[String]) -> Result<Vec<Glob>, String> {
    values.iter().map(|v| Glob::new(v)).collect()
}

impl FilterSettings {
    pub fn compile(&self) -> Result<Filter, String> {
        if let Some(k) = &self.kind {
            if k != "HTTPEvent" {
                return Err(format!("filter type {k:?} is not HTTPEvent"));
            }
        }
        let stages = self
            .stages
            .iter()
            .map(|s| match s.as_str() {
                "OperationReceived" => "received".to_owned(),
                "OperationComplete" => "complete".to_owned(),
                other => other.to_owned(),
            })
            .collect::<Vec<_>>();
        let methods: Vec<String> = self.operations.iter().map(|o| o.to_ascii_uppercase()).collect();
        let f = Filter {
            endpoints: globs(&self.endpoints)?,
            stages: globs(&stages)?,
            operations: globs(&methods)?,
            api_operations: globs(&self.api_operations)?,
            actions: globs(&self.actions)?,
            kinds: globs(&self.kinds)?,
            registries: globs(&self.registries)?,
            outcomes: globs(&self.outcomes)?,
            users: globs(&self.users)?,
        };
        if f.is_empty() {
            return Err("a filter needs at least one non-empty field (an empty filter would drop everything)".into());
        }
        Ok(f)
    }
}

impl Filter {
    fn is_empty(&self) -> bool {
        [
            &self.endpoints,
            &self.stages,
            &self.operations,
            &self.api_operations,
            &self.actions,
            &self.kinds,
            &self.registries,
            &self.outcomes,
            &self.users,
        ]
        .iter()
        .all(|v| v.is_empty())
    }

    /// Whether this filter drops `event`.
    pub fn drops(&self, event: &EventView<'_>) -> bool {
        let any = |globs: &[Glob], value: &str| globs.is_empty() || globs.iter().any(|g| g.matches(value));
        let request = event.request.as_ref();
        let path = request.map_or("", |r| r.path.split('?').next().unwrap_or(""));
        let method = request.map_or("", |r| &r.method);
        let user = event.user.as_ref().map_or("", |u| &u.name);
        any(&self.endpoints, path)
            && any(&self.stages, &event.stage)
            && any(&self.operations, method)
            && any(&self.api_operations, &event.operation)
            && any(&self.actions, &event.action)
            && any(&self.kinds, &event.kind)
            && any(&self.registries, &event.registry)
            && any(&self.outcomes, &event.outcome)
            && any(&self.users, user)
    }
}

/// Whether any of `filters` drops the event.
pub fn dropped(filters: &[Filter], event: &EventView<'_>) -> bool {
    filters.iter().any(|f| f.drops(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> EventView<'_> {
        EventView::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn fields_and_values_combine() {
        let e = event(
            r#"{"ts":"t","action":"pull","actor":"api","artifact":"a","registry":"docker","detail":"","seq":1,
                "kind":"pull_repo","operation":"GetManifest","stage":"complete","outcome":"success",
                "user":{"name":"bob"},"request":{"method":"GET","path":"/v2/a/manifests/v1?x=1"}}"#,
        );
        let f = |s: FilterSettings| s.compile().unwrap().drops(&e);
        assert!(f(FilterSettings { operations: vec!["get".into(), "HEAD".into()], ..Default::default() }));
        assert!(f(FilterSettings {
            endpoints: vec!["/v2/*/manifests/*".into()],
            stages: vec!["OperationComplete".into()],
            ..Default::default()
        }));
        assert!(!f(FilterSettings {
            endpoints: vec!["/v2/*".into()],
            users: vec!["alice".into()],
            ..Default::default()
        }));
        assert!(f(FilterSettings {
            api_operations: vec!["Get*".into()],
            outcomes: vec!["success".into()],
            ..Default::default()
        }));
        assert!(FilterSettings::default().compile().is_err());
        let bad = FilterSettings { endpoints: vec!["/v2/[".into()], ..Default::default() }.compile().unwrap_err();
        assert!(bad.contains("bad pattern"), "{bad}");
        assert!(FilterSettings { kind: Some("RPC".into()), actions: vec!["x".into()], ..Default::default() }
            .compile()
            .is_err());
    }
}
