//! Tenant names. They become object-key prefixes and index filters: a small safe alphabet only.

use thiserror::Error;

/// A tenant name outside the alphabet (or empty, or too long).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid tenant {0:?}: use 1-64 characters from A-Z, a-z, 0-9, '-' and '_'")]
pub struct InvalidTenant(pub String);

/// Checks a tenant name: 1-64 characters from A-Z, a-z, 0-9, '-' and '_'.
pub fn validate_tenant(tenant: &str) -> Result<(), InvalidTenant> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(InvalidTenant(tenant.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_safe_alphabet_only() {
        for ok in ["acme", "A-z_09", &"t".repeat(64)] {
            assert_eq!(validate_tenant(ok), Ok(()), "{ok}");
        }
        for bad in ["", "../x", "a b", "a/b", "é", &"t".repeat(65)] {
            assert_eq!(validate_tenant(bad), Err(InvalidTenant(bad.to_owned())));
        }
        assert_eq!(
            InvalidTenant("../x".into()).to_string(),
            r#"invalid tenant "../x": use 1-64 characters from A-Z, a-z, 0-9, '-' and '_'"#
        );
    }
}
