//! Search that forgives (issue 17): provisions, figures, notes and sources
//! are searched; another romanisation or a typo still finds the entity; each
//! hit says which field matched and where; exact matches rank first. Over the
//! real seed, with the article's spellings.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

const SEARCH: &str = "query($q: String!, $n: Int) {
  search(query: $q, first: $n) {
    score
    node { id }
    matches { field kind snippet highlights { start end } }
  }
}";

async fn search(app: &crate::helpers::TestApp, query: &str, first: i32) -> Vec<Value> {
    let response = app.query_with(SEARCH, json!({ "q": query, "n": first })).await;
    assert!(response.get("errors").is_none(), "`{query}`: {response:#}");
    response["data"]["search"].as_array().unwrap().clone()
}

fn hit<'a>(hits: &'a [Value], id: &str) -> &'a Value {
    hits.iter()
        .find(|h| h["node"]["id"] == id)
        .unwrap_or_else(|| panic!("no hit {id} in {hits:#?}"))
}

/// The matches of a hit in `field`, as (kind, highlighted words).
fn matched(hit: &Value, field: &str) -> Vec<(String, Vec<String>)> {
    hit["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["field"] == field)
        .map(|m| {
            let snippet: Vec<char> = m["snippet"].as_str().unwrap().chars().collect();
            let words = m["highlights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let (start, end) = (
                        r["start"].as_u64().unwrap() as usize,
                        r["end"].as_u64().unwrap() as usize,
                    );
                    snippet[start..end].iter().collect()
                })
                .collect();
            (m["kind"].as_str().unwrap().to_owned(), words)
        })
        .collect()
}

#[tokio::test]
async fn another_romanisation_finds_what_the_article_spells_its_own_way() {
    // (description, query, an entity whose text has only the article's
    // spelling, its field, the article's word)
    let cases = [
        (
            "Tskhinvali for Tskhinval",
            "Tskhinvali",
            "event/tskhinval-rally-2008",
            "TITLE",
            "Tskhinval",
        ),
        (
            "Kokoyty for Kokoity",
            "Kokoyty",
            "event/kokoity-flies-to-moscow",
            "TITLE",
            "Kokoity",
        ),
        (
            "Dzhioev for Dzhioyev",
            "Dzhioev",
            "event/exchange-of-notes",
            "TITLE",
            "Dzhioyev",
        ),
        (
            "Dzhioev in a summary",
            "Dzhioev",
            "actor/south-ossetian-mfa",
            "SUMMARY",
            "Dzhioyev",
        ),
        (
            "Cyrillic for Latin",
            "Цхинвал",
            "event/tskhinval-rally-2008",
            "TITLE",
            "Tskhinval",
        ),
    ];
    let app = spawn_app().await;
    for (description, query, id, field, word) in cases {
        let hits = search(&app, query, 100).await;
        let found = matched(hit(&hits, id), field);
        assert_eq!(
            found,
            vec![("TRANSLITERATION".to_owned(), vec![word.to_owned()])],
            "{description}"
        );
    }
    // The stored spellings still rank first, as exact matches of their aliases.
    for (query, best) in [
        ("Tskhinvali", "place/tskhinval"),
        ("Kokoyty", "actor/eduard-kokoity"),
        ("Dzhioev", "actor/murat-dzhioyev"),
    ] {
        let hits = search(&app, query, 10).await;
        assert_eq!(hits[0]["node"]["id"], best, "{query}");
        assert_eq!(matched(&hits[0], "ALIASES")[0].0, "EXACT", "{query}");
    }
}

#[tokio::test]
async fn a_figure_is_found_by_its_value_and_its_label() {
    let app = spawn_app().await;
    for query in ["3700", "3,700"] {
        let hits = search(&app, query, 20).await;
        let event = hit(&hits, "event/makarov-confirms-deployment");
        assert_eq!(
            matched(event, "FIGURES"),
            vec![("EXACT".to_owned(), vec!["3700".to_owned()])],
            "{query}"
        );
        let figure = event["matches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["field"] == "FIGURES")
            .unwrap();
        assert_eq!(
            figure["snippet"],
            "Russian soldiers deployed to South Ossetia: 3700 soldiers"
        );
        // The summary writes "3,700": it is the same number.
        assert_eq!(
            matched(event, "SUMMARY"),
            vec![("EXACT".to_owned(), vec!["3,700".to_owned()])],
            "{query}"
        );
    }
    let hits = search(&app, "soldiers deployed", 20).await;
    assert!(hits
        .iter()
        .any(|h| h["node"]["id"] == "event/makarov-confirms-deployment"));
}

#[tokio::test]
async fn a_provision_a_note_and_a_source_section_are_searched() {
    let app = spawn_app().await;
    // Words only a provision of the border treaty holds.
    let hits = search(&app, "border service of its own", 10).await;
    assert_eq!(hits[0]["node"]["id"], "treaty/border-protection-2009");
    let provisions = matched(&hits[0], "PROVISIONS");
    assert!(
        provisions.contains(&(
            "EXACT".to_owned(),
            ["border", "service", "of", "its", "own"].map(String::from).to_vec()
        )),
        "{provisions:?}"
    );

    // The friendship treaty's provision on defence.
    let hits = search(&app, "defence militarily", 10).await;
    assert_eq!(hits[0]["node"]["id"], "treaty/friendship-2008");
    assert_eq!(matched(&hits[0], "PROVISIONS")[0].1, ["defence", "militarily"]);

    // A source by its section.
    let hits = search(&app, "bilateral political ties", 10).await;
    assert_eq!(hits[0]["node"]["id"], "source/political-ties");
    assert_eq!(matched(&hits[0], "SECTION")[0].1, ["Bilateral", "Political", "ties"]);

    // A note: the seed's own word for a containment it infers.
    let hits = search(&app, "containment", 10).await;
    let note = matched(hit(&hits, "place/russian-military-base-tskhinval"), "NOTE");
    assert_eq!(note[0].1, ["containment"], "{note:?}");
}

#[tokio::test]
async fn a_typo_is_forgiven_and_ranked_below_every_exact_match() {
    let app = spawn_app().await;
    // One typo in a six-letter word, two in a word of eight letters or more.
    for (query, best, field) in [
        ("Lavorv", "actor/sergey-lavrov", "NAME"),
        ("Medvdev", "actor/dmitry-medvedev", "NAME"),
        ("Friendsihp Cooperaton", "treaty/friendship-2008", "NAME"),
    ] {
        let hits = search(&app, query, 10).await;
        assert_eq!(hits[0]["node"]["id"], best, "{query}: {hits:#?}");
        assert!(
            matched(&hits[0], field).iter().any(|(kind, _)| kind == "TYPO"),
            "{query}: {:#?}",
            hits[0]
        );
    }
    // Short words are never guessed at; nor are numbers.
    assert!(!search(&app, "Duma", 10).await.is_empty());
    assert_eq!(search(&app, "Duam", 10).await, Vec::<Value>::new());
    assert!(search(&app, "3701", 10)
        .await
        .iter()
        .all(|h| h["node"]["id"] != "event/makarov-confirms-deployment"));

    // "russian" finds every entity saying "Russian" before those saying only
    // "Russia" (a typo away): kinds never get closer down the list, and
    // scores never rise.
    let hits = search(&app, "russian", 100).await;
    let rank = |h: &Value| {
        let kinds: Vec<&str> = h["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["kind"].as_str().unwrap())
            .collect();
        ["EXACT", "PREFIX", "TRANSLITERATION", "TYPO"]
            .iter()
            .position(|k| kinds.contains(k))
            .map(|p| p.max(1))
            .unwrap()
    };
    let ranks: Vec<usize> = hits.iter().map(rank).collect();
    assert!(
        ranks.contains(&1) && ranks.contains(&3),
        "both exact and typo hits: {ranks:?}"
    );
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "exact before fuzzy: {ranks:?}");
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        hits.iter().any(|h| h["node"]["id"] == "actor/russia"),
        "Russia, a typo away"
    );
}

#[tokio::test]
async fn every_hit_says_which_field_matched_with_the_words_highlighted() {
    let app = spawn_app().await;
    for query in ["Tskhinvali", "Kokoyty", "3700", "treaty", "Lavorv", "south ossetia"] {
        for h in search(&app, query, 100).await {
            let matches = h["matches"].as_array().unwrap();
            assert!(!matches.is_empty(), "`{query}`: {h:#}");
            for m in matches {
                let snippet = m["snippet"].as_str().unwrap();
                let highlights = m["highlights"].as_array().unwrap();
                assert!(!highlights.is_empty(), "`{query}`: {m:#}");
                assert!(snippet.chars().count() <= 162, "`{query}`: {snippet}");
                for r in highlights {
                    let (start, end) = (r["start"].as_u64().unwrap(), r["end"].as_u64().unwrap());
                    assert!(
                        start < end && end as usize <= snippet.chars().count(),
                        "`{query}`: {m:#}"
                    );
                }
            }
        }
    }
}
