//! Reading one argument of a method's command line: a string, or an object whose first known
//! member says what it is. Written out (not an untagged derive) so that members it does not
//! know pass through `serde_ignored` and are reported, as everywhere else in a manifest.

use super::{
    AdaptedContentArg, Arg, JsonInputArg, ResourcePathArg, ResourceTypeArg, ResourceVersionArg,
    WhatIfArg,
};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArgVisitor)
    }
}

struct ArgVisitor;

/// The members an argument object may have.
#[derive(Default)]
struct Members {
    json_input: Option<String>,
    mandatory: Option<bool>,
    resource_type: Option<String>,
    resource_version: Option<String>,
    resource_path: Option<String>,
    include_quotes: Option<bool>,
    what_if: Option<String>,
    adapted_content: Option<String>,
}

impl Members {
    /// The variant the members make, in the order of [`Arg`]'s variants.
    fn into_arg(self) -> Option<Arg> {
        if let Some(json_input_arg) = self.json_input {
            return Some(Arg::JsonInput(JsonInputArg {
                json_input_arg,
                mandatory: self.mandatory,
            }));
        }
        if let Some(resource_type_arg) = self.resource_type {
            return Some(Arg::ResourceType(ResourceTypeArg { resource_type_arg }));
        }
        if let Some(resource_version_arg) = self.resource_version {
            return Some(Arg::ResourceVersion(ResourceVersionArg {
                resource_version_arg,
            }));
        }
        if let Some(resource_path_arg) = self.resource_path {
            return Some(Arg::ResourcePath(ResourcePathArg {
                resource_path_arg,
                include_quotes: self.include_quotes,
            }));
        }
        if let Some(what_if_arg) = self.what_if {
            return Some(Arg::WhatIf(WhatIfArg { what_if_arg }));
        }
        self.adapted_content.map(|adapted_content_arg| {
            Arg::AdaptedContent(AdaptedContentArg {
                adapted_content_arg,
            })
        })
    }
}

impl<'de> Visitor<'de> for ArgVisitor {
    type Value = Arg;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a string, or an object with jsonInputArg, resourceTypeArg, resourceVersionArg, \
             resourcePathArg, whatIfArg or adaptedContentArg",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
        Ok(Arg::Plain(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Arg, E> {
        Ok(Arg::Plain(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Arg, A::Error> {
        let mut m = Members::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "jsonInputArg" => m.json_input = Some(map.next_value()?),
                "mandatory" => m.mandatory = map.next_value()?,
                "resourceTypeArg" => m.resource_type = Some(map.next_value()?),
                "resourceVersionArg" => m.resource_version = Some(map.next_value()?),
                "resourcePathArg" => m.resource_path = Some(map.next_value()?),
                "includeQuotes" => m.include_quotes = map.next_value()?,
                "whatIfArg" => m.what_if = Some(map.next_value()?),
                "adaptedContentArg" => m.adapted_content = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        m.into_arg()
            .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Map, &self))
    }
}
