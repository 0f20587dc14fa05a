//! The Prometheus text exposition format, read back from `/metrics`.

use std::collections::BTreeMap;

/// One scraped sample: series name, labels, value.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The Prometheus text format's sample lines (comments skipped).
pub(super) fn parse_exposition(body: &str) -> Vec<Sample> {
    body.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            Sample {
                name: name.to_owned(),
                labels,
                value,
            }
        })
        .collect()
}

/// `a="x",b="y \"quoted\""` into a map (values unescaped).
fn parse_labels(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while let Some((key, rest)) = text.split_once("=\"") {
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        text = &rest[end..];
    }
    labels
}

pub(super) fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

#[test]
fn observability_metrics_exposition_parser_reads_labels() {
    let samples = parse_exposition(
        "# TYPE x counter\nx 3\ny{a=\"1\",b=\"q \\\"z\\\"\"} 2.5\nh_bucket{le=\"+Inf\"} 0\n",
    );
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[0].name, "x");
    assert_eq!(samples[1].labels["b"], "q \"z\"");
    assert_eq!(samples[1].labels["a"], "1");
    assert_eq!(samples[2].labels["le"], "+Inf");
}
