//! What a case is played with: the client, the backend's address, the oracle and the mock. Its
//! own module because both the stream cases (`play`) and the REST cases (`api_cases`) take
//! it, and the first dispatches to the second.

use sut_kit::mock::Mock;
use sut_kit::oracle::Oracle;

use crate::expect::SdkForms;

/// What a case needs from its surroundings.
#[derive(Debug)]
pub struct CaseEnv<'a> {
    pub client: reqwest::Client,
    /// The name the backend reports (its manifest's; a variant's base's).
    pub backend: String,
    /// The backend's base URL.
    pub base: String,
    pub oracle: &'a Oracle,
    pub mock: &'a Mock,
    pub quick: bool,
    /// Which AI SDK's words the model may read ([`SdkForms`]): the earlier ones only for
    /// a target on a stack with an SDK of its own.
    pub sdk_forms: SdkForms,
}

impl CaseEnv<'_> {
    /// The same surroundings pointed at another instance of the backend (one of a case's own).
    pub fn at(&self, base: &str) -> Self {
        Self {
            client: self.client.clone(),
            backend: self.backend.clone(),
            base: base.to_owned(),
            oracle: self.oracle,
            mock: self.mock,
            quick: self.quick,
            sdk_forms: self.sdk_forms,
        }
    }
}
