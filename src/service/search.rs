//! Searching the licence library (for departments and administrators): by holder (credit
//! code or ID number), kind and status, newest first, a page at a time. Every search is
//! recorded, since it reads who holds what.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{App, LicenceView, Principal, ServiceError};
use crate::domain::HolderCode;
use crate::storage::LicenceFilter;

/// Largest page.
const MAX_PER_PAGE: i64 = 100;

/// What to search for; every criterion is optional.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Holder's unified social credit code or ID number.
    pub holder: Option<String>,
    /// Licence kind, e.g. `food_business_permit`.
    pub kind: Option<String>,
    /// `valid` (有效), `suspended`, `revoked`, `cancelled` or `expired` (recorded as 失效).
    pub status: Option<String>,
    /// Only licences issued by the caller's own department.
    #[serde(default)]
    pub own: bool,
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Results per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// Searches the licence library (departments, service counters and administrators).
    pub async fn search_licences(
        &self,
        principal: &Principal,
        query: SearchQuery,
    ) -> Result<SearchPage, ServiceError> {
        if matches!(principal, Principal::Holder { .. }) {
            return Err(ServiceError::Forbidden(
                "holders list their own licences at /api/v1/holder/licences".into(),
            ));
        }
        let holder_code = match query.holder.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(
                HolderCode::parse(code)
                    .map_err(|_| invalid("holder", "is neither a credit code nor an ID number"))?
                    .to_string(),
            ),
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
            Some("expired") => Some("05"),
            Some(_) => {
                return Err(invalid(
                    "status",
                    "must be valid, suspended, revoked, cancelled or expired",
                ))
            }
        };
        let department_id = match (principal, query.own) {
            (Principal::Department { department_id, .. }, true) => Some(department_id.clone()),
            (Principal::Admin { .. } | Principal::Counter { .. }, true) => {
                return Err(invalid("own", "only a department has licences of its own"))
            }
            (_, _) => None,
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
        let (total, items) = self
            .licence_views(&filter, per_page, (page - 1) * per_page)
            .await?;
        let described = format!(
            "holder={} kind={} status={} own={} page={page}",
            filter.holder_code.as_deref().unwrap_or("*"),
            filter.kind.as_deref().unwrap_or("*"),
            filter.status.as_deref().unwrap_or("*"),
            query.own
        );
        // A search writes nothing else: its entry is committed with the others waiting.
        self.log_alone(super::audit_event(
            principal,
            "licence.search",
            &described,
            None,
        )?)
        .await?;
        Ok(SearchPage {
            total,
            page,
            per_page,
            items,
        })
    }

    /// Licences matching `filter` as of today, `limit` from `offset`, newest first; and how
    /// many match in all.
    pub(super) async fn licence_views(
        &self,
        filter: &LicenceFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<LicenceView>), ServiceError> {
        let (total, found) = self.store.search_licences(filter, limit, offset).await?;
        let mut views = Vec::with_capacity(found.len());
        for (licence, version) in &found {
            let department = self
                .store
                .department(&licence.department_id)
                .await?
                .ok_or_else(|| ServiceError::Internal("licence without department".into()))?;
            views.push(self.view(licence, version, &department, self.today()));
        }
        Ok((total, views))
    }
}
