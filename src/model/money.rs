//! Exact amounts of money.
//!
//! The article's sums (2,800,000,000 roubles) overflow GraphQL's 32-bit `Int`
//! and must never pass through a float, so an amount is a whole number of
//! currency units held in a `u64`, with an ISO-4217 currency code.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO-4217 currency code: three uppercase ASCII letters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Currency(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency `{0}` is not a three-letter ISO-4217 code such as RUB or USD")]
    Currency(String),
    #[error("amount must be a positive whole number of currency units, got {0}")]
    NotPositive(String),
}

impl Currency {
    pub fn parse(s: &str) -> Result<Currency, MoneyError> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(s.to_owned()))
        } else {
            Err(MoneyError::Currency(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Currency, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A positive, whole amount in one currency.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[serde(deserialize_with = "positive")]
    pub amount: u64,
    pub currency: Currency,
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom(MoneyError::NotPositive(n.to_string())));
    }
    Ok(n)
}

impl Money {
    pub fn new(amount: u64, currency: Currency) -> Result<Money, MoneyError> {
        if amount == 0 {
            return Err(MoneyError::NotPositive(amount.to_string()));
        }
        Ok(Money { amount, currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}
