//! Kubernetes metadata from a container log's path, with no API server access:
//! - `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`
//! - `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`

use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubernetesMeta {
    pub namespace: String,
    pub pod: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    pub container: String,
}

pub fn from_path(path: &Path) -> Option<KubernetesMeta> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    if let Some(at) = parts.windows(2).rposition(|w| w == ["log", "pods"]) {
        return from_pods_path(&parts[at + 2..]);
    }
    if let Some(at) = parts.windows(2).rposition(|w| w == ["log", "containers"]) {
        return from_containers_name(parts.get(at + 2)?);
    }
    None
}

/// `<namespace>_<pod>_<uid>/<container>/<n>.log`. Namespaces and pod names cannot contain `_`
/// (they are DNS labels/subdomains), so splitting on it is exact.
fn from_pods_path(rest: &[&str]) -> Option<KubernetesMeta> {
    let [pod_dir, container, file] = rest else {
        return None;
    };
    if !file.ends_with(".log") {
        return None;
    }
    let mut fields = pod_dir.splitn(3, '_');
    let (namespace, pod, uid) = (fields.next()?, fields.next()?, fields.next()?);
    non_empty([namespace, pod, uid, container])?;
    Some(KubernetesMeta {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        pod_uid: Some(uid.to_owned()),
        container: (*container).to_owned(),
    })
}

/// `<pod>_<namespace>_<container>-<64 hex id>.log`.
fn from_containers_name(name: &str) -> Option<KubernetesMeta> {
    let stem = name.strip_suffix(".log")?;
    let mut fields = stem.splitn(3, '_');
    let (pod, namespace, container_and_id) = (fields.next()?, fields.next()?, fields.next()?);
    let (container, id) = container_and_id.rsplit_once('-')?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    non_empty([pod, namespace, container])?;
    Some(KubernetesMeta {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        pod_uid: None,
        container: container.to_owned(),
    })
}

fn non_empty<const N: usize>(fields: [&str; N]) -> Option<()> {
    fields.iter().all(|f| !f.is_empty()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_directory_layout() {
        let meta = from_path(Path::new(
            "/var/log/pods/shop_checkout-7d9f8b6c5-x2x4q_0b5e4c1a-2f0d-4a5b-9c3e-1d2f3a4b5c6d/app/0.log",
        ))
        .unwrap();
        assert_eq!(meta.namespace, "shop");
        assert_eq!(meta.pod, "checkout-7d9f8b6c5-x2x4q");
        assert_eq!(
            meta.pod_uid.as_deref(),
            Some("0b5e4c1a-2f0d-4a5b-9c3e-1d2f3a4b5c6d")
        );
        assert_eq!(meta.container, "app");
    }

    #[test]
    fn containers_symlink_layout() {
        let id = "a".repeat(64);
        let meta = from_path(Path::new(&format!(
            "/var/log/containers/checkout-7d9f8b6c5-x2x4q_shop_istio-proxy-{id}.log"
        )))
        .unwrap();
        assert_eq!(
            (meta.namespace.as_str(), meta.container.as_str()),
            ("shop", "istio-proxy")
        );
        assert_eq!(meta.pod_uid, None);
    }

    #[test]
    fn other_paths_have_no_metadata() {
        for path in [
            "/var/log/app/app.log",
            "/var/log/pods/broken/app/0.log",
            "/var/log/pods/a_b_c/app/0.txt",
            "/var/log/containers/nohex.log",
        ] {
            assert_eq!(from_path(Path::new(path)), None, "{path}");
        }
    }
}
