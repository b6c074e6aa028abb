//! Chat templates: the Jinja template a chat model ships with, rendered by `minijinja`.

use minijinja::{Environment, ErrorKind, context};

use crate::ChatMessage;
use crate::error::{GenerateError, Result};

/// ChatML, used when a model names no template (Qwen's format).
const CHATML: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// A compiled chat template.
pub struct ChatTemplate {
    environment: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` (ChatML when `None`); `bos_token` and `eos_token` are the strings
    /// templates may refer to.
    pub fn new(source: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut environment = Environment::new();
        // Templates written for Hugging Face's Jinja call `raise_exception` on bad input.
        environment.add_function(
            "raise_exception",
            |message: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        environment
            .add_template_owned("chat", source.unwrap_or(CHATML).to_string())
            .map_err(|err| GenerateError::Template(err.to_string()))?;
        Ok(Self {
            environment,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// The prompt for `messages`, ending where the assistant's answer begins.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String> {
        let template = self
            .environment
            .get_template("chat")
            .map_err(|err| GenerateError::Template(err.to_string()))?;
        template
            .render(context! {
                messages => minijinja::Value::from(minijinja::value::Serde(messages)),
                add_generation_prompt => true,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|err| GenerateError::Template(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    #[test]
    fn chatml_renders_roles_and_the_generation_prompt() {
        let template = ChatTemplate::new(None, "", "<|im_end|>").unwrap();
        let prompt = template
            .render(&[
                ChatMessage::new(Role::System, "Be brief."),
                ChatMessage::new(Role::User, "Is the pool heated?"),
            ])
            .unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nIs the pool heated?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_template_that_raises_is_an_error() {
        let template = ChatTemplate::new(
            Some("{{ raise_exception('roles must alternate') }}"),
            "",
            "",
        )
        .unwrap();
        let err = template.render(&[]).unwrap_err();
        assert!(err.to_string().contains("roles must alternate"), "{err}");
    }

    #[test]
    fn a_malformed_template_is_an_error() {
        assert!(ChatTemplate::new(Some("{% for %}"), "", "").is_err());
    }
}
