//! One row's figure for one backend, read out of results.json by the row's path.
//!
//! The path walks the JSON form of `contract::results::Results`, so a field the stages add
//! later is readable as soon as the config names it. Anything the path does not reach is
//! missing, with a reason, never zero.

use serde_json::Value;

use super::config::{Aggregate, MetricConfig};
use super::units;

/// A measured figure in the row's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub value: f64,
    /// The 95% interval, where the stage gives one.
    pub ci: Option<[f64; 2]>,
}

impl MetricConfig {
    /// The path with `{backend}` filled in.
    pub fn path_for(&self, backend: &str) -> String {
        self.path.replace("{backend}", backend)
    }

    /// Reads the figure of `backend` in `row_unit`; `Err` says why there is none.
    pub fn read(&self, json: &Value, backend: &str, row_unit: &str) -> Result<Figure, String> {
        let path = self.path_for(backend);
        let found = resolve(json, &path);
        let mut value = match self.aggregate {
            None => number_at(&found, &path)?,
            Some(aggregate) => self.aggregate(aggregate, &found, &path)?,
        };
        let mut ci = match &self.ci {
            Some(ci_path) => interval_at(json, &ci_path.replace("{backend}", backend))?,
            None => None,
        };
        if let Some(divisor_path) = &self.divide_by {
            let divisor_path = divisor_path.replace("{backend}", backend);
            let divisor = number_at(&resolve(json, &divisor_path), &divisor_path)?;
            if divisor == 0.0 {
                return Err(format!("{divisor_path} is 0, so the figure has no share"));
            }
            value /= divisor;
            ci = ci.map(|[lo, hi]| [lo / divisor, hi / divisor]);
        }
        let f = units::factor(&self.unit, row_unit)
            .ok_or_else(|| format!("`{}` does not convert to `{row_unit}`", self.unit))?;
        Ok(Figure {
            value: value * f,
            ci: ci.map(|[lo, hi]| [lo * f, hi * f]),
        })
    }

    fn aggregate(&self, aggregate: Aggregate, found: &[&Value], path: &str) -> Result<f64, String> {
        if found.is_empty() {
            return Err(format!("no figure at {path} in this run"));
        }
        let numbers = || -> Result<Vec<f64>, String> {
            found
                .iter()
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| format!("{path} holds {v}, not a number"))
                })
                .collect()
        };
        let score = || -> Result<f64, String> {
            found
                .iter()
                .map(|v| match v.as_str() {
                    Some(name) => Ok(self.scores.get(name).copied().unwrap_or(0.0)),
                    None => Err(format!("{path} holds {v}, not a name to score")),
                })
                .sum()
        };
        Ok(match aggregate {
            Aggregate::Sum => numbers()?.iter().sum(),
            Aggregate::Max => numbers()?.iter().copied().fold(f64::MIN, f64::max),
            Aggregate::Min => numbers()?.iter().copied().fold(f64::MAX, f64::min),
            Aggregate::Score => score()?,
        })
    }
}

/// Every non-null value `path` reaches; `*` stands for each value of a map or array.
pub fn resolve<'a>(json: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut here = vec![json];
    for segment in path.split('.') {
        here = here
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match (segment, v) {
                    ("*", Value::Object(map)) => map.values().collect(),
                    ("*", Value::Array(items)) => items.iter().collect(),
                    (key, Value::Object(map)) => map.get(key).into_iter().collect(),
                    _ => Vec::new(),
                }
            })
            .filter(|v| !v.is_null())
            .collect();
    }
    here
}

fn number_at(found: &[&Value], path: &str) -> Result<f64, String> {
    match found {
        [] => Err(format!("no figure at {path} in this run")),
        [v] => v
            .as_f64()
            .ok_or_else(|| format!("{path} holds {v}, not a number")),
        _ => Err(format!("{path} reaches several values; aggregate them")),
    }
}

fn interval_at(json: &Value, path: &str) -> Result<Option<[f64; 2]>, String> {
    let found = resolve(json, path);
    let Some(v) = found.first() else {
        return Ok(None);
    };
    match v
        .as_array()
        .map(|a| a.iter().map(Value::as_f64).collect::<Vec<_>>())
    {
        Some(pair) if pair.len() == 2 => match (pair[0], pair[1]) {
            (Some(lo), Some(hi)) if lo <= hi => Ok(Some([lo, hi])),
            _ => Err(format!("{path} holds {v}, not an interval [lo, hi]")),
        },
        _ => Err(format!("{path} holds {v}, not an interval [lo, hi]")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;

    fn metric(path: &str, unit: &str) -> MetricConfig {
        MetricConfig {
            path: path.into(),
            unit: unit.into(),
            ci: None,
            divide_by: None,
            aggregate: None,
            scores: BTreeMap::new(),
            why: "w".into(),
        }
    }

    #[test]
    fn reads_converts_and_divides() {
        let json = json!({
            "run": {"machine": {"cores": 2}},
            "backends": {"unix": {"latency": {"ttft": {"p50_us": 1500.0, "ci": [1000.0, 2000.0]}},
                                  "saturation_rps": 30.0}}
        });
        let mut m = metric("backends.{backend}.latency.ttft.p50_us", "µs");
        m.ci = Some("backends.{backend}.latency.ttft.ci".into());
        let f = m.read(&json, "unix", "ms").unwrap();
        assert_eq!(f.value, 1.5);
        assert_eq!(f.ci, Some([1.0, 2.0]));
        let missing = m.read(&json, "napi", "ms").unwrap_err();
        assert!(
            missing.contains("backends.napi.latency.ttft.p50_us"),
            "{missing}"
        );
        let mut per_core = metric("backends.{backend}.saturation_rps", "conv/s");
        per_core.divide_by = Some("run.machine.cores".into());
        assert_eq!(per_core.read(&json, "unix", "conv/s").unwrap().value, 15.0);
    }

    #[test]
    fn aggregates_score_over_a_map_and_an_empty_map_is_missing() {
        let json = json!({"backends": {
            "napi": {"crash": {"kill-runtime": {"blast_radius": "process"},
                               "__panic": {"blast_radius": "request"},
                               "stall": {"survived": true}}},
            "http": {}
        }});
        let mut m = metric("backends.{backend}.crash.*.blast_radius", "faults");
        m.aggregate = Some(Aggregate::Score);
        m.scores = BTreeMap::from([("runtime".into(), 1.0), ("process".into(), 2.0)]);
        assert_eq!(m.read(&json, "napi", "faults").unwrap().value, 2.0);
        assert!(m.read(&json, "http", "faults").is_err(), "absent, not zero");
        m.path = "backends.{backend}.crash.*.survived".into();
        let err = m.read(&json, "napi", "faults").unwrap_err();
        assert!(err.contains("not a name"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_reasons_not_panics() {
        let json = json!({"backends": {"unix": {"x": "fast", "ci": [3.0], "zero": 0}}});
        assert!(
            metric("backends.{backend}.x", "s")
                .read(&json, "unix", "s")
                .unwrap_err()
                .contains("not a number")
        );
        let mut m = metric("backends.{backend}.zero", "s");
        m.ci = Some("backends.{backend}.ci".into());
        assert!(
            m.read(&json, "unix", "s")
                .unwrap_err()
                .contains("not an interval")
        );
        let mut m = metric("backends.{backend}.zero", "s");
        m.divide_by = Some("backends.{backend}.zero".into());
        assert!(m.read(&json, "unix", "s").unwrap_err().contains("is 0"));
    }
}
