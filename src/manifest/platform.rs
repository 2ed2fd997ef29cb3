//! Platforms (`os/architecture[/variant]`, as OCI image indexes and `docker --platform` name
//! them): parsing and the normal form every comparison and hash uses, so `linux/aarch64`,
//! `linux/arm64/v8` and `linux/arm64` are one platform, as they are to containerd.

use std::fmt;

use serde::{Serialize, Serializer};

/// One platform in normal form (`linux/arm64`, `linux/arm/v7`, `linux/amd64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

const EXAMPLE: &str =
    "write it as os/architecture[/variant], for example linux/amd64 or linux/arm64";

impl Platform {
    /// Parse `os/arch[/variant]` (or a bare architecture, which means linux) into normal form.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] if known_arch(arch) => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(format!("`{text}` is not a platform; {EXAMPLE}")),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !valid(os) || !valid(arch) || variant.is_some_and(|v| !valid(v)) {
            return Err(format!("`{text}` is not a platform; {EXAMPLE}"));
        }
        Ok(Platform::normalise(os, arch, variant.unwrap_or("")))
    }

    /// The normal form of an os, architecture and variant as an engine or image config
    /// reports them (`x86_64`, `aarch64`, an empty variant).
    pub fn normalise(os: &str, arch: &str, variant: &str) -> Platform {
        let os = match os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_owned(),
            other => other.to_owned(),
        };
        let variant = variant.to_ascii_lowercase();
        let (arch, variant) = match arch.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "amd64" => ("amd64", none_if(&variant, &["", "v1"])),
            "i386" | "i686" | "386" => ("386", None),
            "aarch64" | "arm64" => ("arm64", none_if(&variant, &["", "v8"])),
            "armhf" | "armv7l" | "armv7" => ("arm", Some("v7".to_owned())),
            "armel" | "armv6l" | "armv6" => ("arm", Some("v6".to_owned())),
            "arm" => (
                "arm",
                Some(if variant.is_empty() {
                    "v7".into()
                } else {
                    variant
                }),
            ),
            other => {
                return Platform {
                    os,
                    arch: other.to_owned(),
                    variant: (!variant.is_empty()).then_some(variant),
                }
            }
        };
        Platform {
            os,
            arch: arch.to_owned(),
            variant,
        }
    }

    /// Whether an image of this platform runs natively on an engine of `engine`'s (same os and
    /// architecture: the variant is a detail the engine accepts).
    pub fn native_on(&self, engine: &Platform) -> bool {
        self.os == engine.os && self.arch == engine.arch
    }
}

fn none_if(variant: &str, defaults: &[&str]) -> Option<String> {
    (!defaults.contains(&variant)).then(|| variant.to_owned())
}

fn known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "amd64" | "x86_64" | "arm64" | "aarch64" | "arm" | "386" | "ppc64le" | "s390x" | "riscv64"
    )
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Serialize for Platform {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    fn p(s: &str) -> String {
        Platform::parse(s).unwrap().to_string()
    }

    #[test]
    fn spellings_of_one_platform_are_one() {
        assert_eq!(p("linux/arm64"), "linux/arm64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("arm64"), "linux/arm64");
        assert_eq!(p("linux/x86_64"), "linux/amd64");
        assert_eq!(p("Linux/AMD64"), "linux/amd64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("linux/arm/v6"), "linux/arm/v6");
        assert_eq!(p("linux/riscv64"), "linux/riscv64");
        assert_eq!(
            Platform::normalise("linux", "aarch64", "").to_string(),
            "linux/arm64"
        );
    }

    #[test]
    fn nonsense_is_refused_with_the_form() {
        for bad in ["", "linux", "linux/", "a/b/c/d", "linux/arm 64", "/amd64"] {
            let err = Platform::parse(bad).unwrap_err();
            assert!(err.contains("os/architecture"), "{bad}: {err}");
        }
    }

    #[test]
    fn variants_do_not_make_another_machine() {
        let engine = Platform::parse("linux/arm64").unwrap();
        assert!(Platform::parse("linux/arm64/v8")
            .unwrap()
            .native_on(&engine));
        assert!(!Platform::parse("linux/amd64").unwrap().native_on(&engine));
    }
}
