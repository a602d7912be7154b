//! Searching the licence library (for departments and administrators): by holder (credit
//! code or ID number), kind and status, newest first, a page at a time. Every search is
//! recorded, since it reads who holds what.

use serde::{Deserialize, Serialize};

use super::{today, App, LicenceView, Principal, ServiceError};
use crate::domain::{CreditCode, IdNumber};
use crate::storage::{write, LicenceFilter, StorageError};

/// Largest page.
const MAX_PER_PAGE: i64 = 100;

/// What to search for; every criterion is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Holder's unified social credit code or ID number.
    pub holder: Option<String>,
    /// Licence kind, e.g. `food_business_permit`.
    pub kind: Option<String>,
    /// `valid` (有效), `suspended`, `revoked` or `cancelled`.
    pub status: Option<String>,
    /// Only licences issued by the caller's own department.
    #[serde(default)]
    pub own: bool,
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Results per page, 1–100 (default 20).
    pub per_page: Option<i64>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    /// How many licences match in all.
    pub total: i64,
    /// This page's number.
    pub page: i64,
    /// Results per page.
    pub per_page: i64,
    /// The licences on this page, newest first, as of today.
    pub items: Vec<LicenceView>,
}

fn invalid(field: &str, message: &str) -> ServiceError {
    ServiceError::InvalidField {
        field: field.into(),
        message: message.into(),
    }
}

impl App {
    /// Searches the licence library (departments and administrators).
    pub async fn search_licences(
        &self,
        principal: &Principal,
        query: SearchQuery,
    ) -> Result<SearchPage, ServiceError> {
        let holder_code = match query.holder.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(match CreditCode::parse(code) {
                Ok(credit_code) => credit_code.to_string(),
                Err(_) => IdNumber::parse(code)
                    .map_err(|_| invalid("holder", "is neither a credit code nor an ID number"))?
                    .as_str()
                    .to_string(),
            }),
        };
        if let Some(kind) = &query.kind {
            self.templates.get(kind)?;
        }
        let status = match query.status.as_deref() {
            None => None,
            Some("valid") => Some("01"),
            Some("suspended") => Some("02"),
            Some("revoked") => Some("03"),
            Some("cancelled") => Some("04"),
            Some(_) => {
                return Err(invalid(
                    "status",
                    "must be valid, suspended, revoked or cancelled",
                ))
            }
        };
        let department_id = match (principal, query.own) {
            (Principal::Department { department_id, .. }, true) => Some(department_id.clone()),
            (Principal::Admin { .. }, true) => {
                return Err(invalid(
                    "own",
                    "an administrator has no licences of its own",
                ))
            }
            (_, false) => None,
        };
        let page = query.page.unwrap_or(1);
        let per_page = query.per_page.unwrap_or(20);
        if !(1..=1_000_000).contains(&page) {
            return Err(invalid("page", "must be 1 to 1000000"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(invalid("per_page", "must be 1 to 100"));
        }
        let filter = LicenceFilter {
            holder_code,
            kind: query.kind.clone(),
            status: status.map(str::to_string),
            department_id,
        };
        let (total, found) = self
            .store
            .search_licences(&filter, per_page, (page - 1) * per_page)
            .await?;
        let mut items = Vec::with_capacity(found.len());
        for (licence, version) in &found {
            let department = self
                .store
                .department(&licence.department_id)
                .await?
                .ok_or_else(|| ServiceError::Internal("licence without department".into()))?;
            items.push(self.view(licence, version, &department, today()));
        }
        let mut tx = self.store.begin().await?;
        let described = format!(
            "holder={} kind={} status={} own={} page={page}",
            filter.holder_code.as_deref().unwrap_or("*"),
            filter.kind.as_deref().unwrap_or("*"),
            filter.status.as_deref().unwrap_or("*"),
            query.own
        );
        write::audit(
            &mut tx,
            &super::audit_event(principal, "licence.search", &described, None)?,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        Ok(SearchPage {
            total,
            page,
            per_page,
            items,
        })
    }
}
