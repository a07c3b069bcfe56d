//! What RBAC grants a ServiceAccount, from Roles, ClusterRoles and their bindings as read.

use super::objects::Inventory;
use serde_json::Value;

/// Every rule bound to `ns/sa`, each with the binding and role it came from.
pub fn rules_for(inv: &Inventory, ns: &str, sa: &str) -> Vec<(String, Value)> {
    let bindings = inv
        .of_kind("RoleBinding")
        .filter(|b| b.namespace == ns)
        .chain(inv.of_kind("ClusterRoleBinding"));
    let mut out = Vec::new();
    for b in bindings {
        let binds = b
            .at("/subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|s| {
                s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    && s.get("name").and_then(Value::as_str) == Some(sa)
                    && s.get("namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(&b.namespace)
                        == ns
            });
        if !binds {
            continue;
        }
        let kind = b.at("/roleRef/kind").and_then(Value::as_str).unwrap_or("");
        let name = b.at("/roleRef/name").and_then(Value::as_str).unwrap_or("");
        let role = match kind {
            "Role" => inv.get("Role", &b.namespace, name),
            _ => inv.get("ClusterRole", "", name),
        };
        let Some(role) = role else { continue };
        for r in role
            .at("/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push((
                format!("{} -> {}: rules", b.reference(), role.reference()),
                r.clone(),
            ));
        }
    }
    out
}

/// Whether a PolicyRule allows `verb` on `resource` (any API group: Argo's are what matter).
pub fn allows(rule: &Value, resource: &str, verb: &str) -> bool {
    let has = |field: &str, want: &str| {
        rule.get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|v| v.as_str().is_some_and(|v| v == want || v == "*"))
    };
    has("resources", resource) && has("verbs", verb)
}
