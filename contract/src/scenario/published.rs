//! The catalogue as a client reads it: what the chat page's scenario picker offers
//! (`GET /assets/scenarios.json` on every backend), so the page holds no copy of the names.

use serde::Serialize;

use super::{CATALOGUE, PARAMETER_KEYS};

/// `{"scenarios":[{"name","expected","promise"}],"parameters":["ttft_ms",...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedCatalogue {
    /// Every scenario, in catalogue order.
    pub scenarios: Vec<PublishedScenario>,
    /// The keys a directive accepts, in the order a directive writes them.
    pub parameters: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedScenario {
    pub name: &'static str,
    /// [`super::Expected::as_str`]: `completes`, `ends-in-error` or `backend-fault`.
    pub expected: &'static str,
    pub promise: &'static str,
}

impl PublishedCatalogue {
    pub fn new() -> Self {
        Self {
            scenarios: CATALOGUE
                .iter()
                .map(|info| PublishedScenario {
                    name: info.name,
                    expected: info.expected.as_str(),
                    promise: info.promise,
                })
                .collect(),
            parameters: PARAMETER_KEYS.to_vec(),
        }
    }
}

impl Default for PublishedCatalogue {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_scenario_in_catalogue_order_with_its_expectation() {
        let json = serde_json::to_value(PublishedCatalogue::new()).unwrap();
        let names: Vec<&str> = json["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        let catalogue: Vec<&str> = CATALOGUE.iter().map(|i| i.name).collect();
        assert_eq!(names, catalogue);
        assert_eq!(json["scenarios"][0]["expected"], "completes");
        assert_eq!(json["scenarios"][9]["name"], "http-500");
        assert_eq!(json["scenarios"][9]["expected"], "ends-in-error");
        assert_eq!(json["parameters"][2], "chunks");
    }
}
