//! The per-account action budget: every send, edit and delete on any of an account's
//! connections and every REST write it makes spend from one budget, shared by all
//! nodes through the bus's shared state (Redis when there are several nodes).

use crate::error::{DomainResult, Refusal};
use crate::ids::AccountId;

use super::Mentoring;

impl Mentoring {
    /// Spends one action of `account`'s budget, or refuses with `rate_limited` and
    /// when to retry. If the shared state is unreachable the action is allowed: the
    /// budget protects the service and must not become a way to stop it.
    pub async fn spend(&self, account: &AccountId) -> DomainResult<()> {
        let key = format!("account:{}", account.as_str());
        match self
            .bus
            .state()
            .spend(&key, self.limits.account_budget)
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(wait)) => {
                metrics::counter!("mentorhub_account_budget_refusals_total").increment(1);
                Err(Refusal::rate_limited(wait))
            }
            Err(error) => {
                // Repeats are summarised by the log throttle.
                tracing::warn!(%error, "account budget unavailable; allowing the action");
                Ok(())
            }
        }
    }
}
