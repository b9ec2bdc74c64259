//! The objection library: what people say when they push back on a call, and proven ways to
//! answer. `GET /v1/objections` lists it; the offline model answers with it, and rule books
//! drafted offline start from it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::object_name;

object_name!(ObjectionObject, "objection");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionCategory {
    Price,
    Timing,
    NotInterested,
    AlreadyHave,
    Trust,
    Authority,
    Privacy,
}

impl ObjectionCategory {
    pub const ALL: [Self; 7] = [
        Self::Price,
        Self::Timing,
        Self::NotInterested,
        Self::AlreadyHave,
        Self::Trust,
        Self::Authority,
        Self::Privacy,
    ];
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Objection {
    #[schema(example = "obj_price_too_expensive")]
    pub id: &'static str,
    pub object: ObjectionObject,
    pub category: ObjectionCategory,
    /// `en` or `hi`.
    #[schema(example = "en")]
    pub locale: &'static str,
    #[schema(example = "It's too expensive.")]
    pub objection: &'static str,
    /// Two or three answers, the first the one to try first.
    #[schema(value_type = Vec<String>)]
    pub rebuttals: &'static [&'static str],
    /// Lower-case phrases that mark the objection in what someone says (the offline model's cue).
    #[serde(skip)]
    pub cues: &'static [&'static str],
}

/// The locales the library is written in.
pub const OBJECTION_LOCALES: &[&str] = &["en", "hi"];

const fn objection(
    id: &'static str,
    category: ObjectionCategory,
    locale: &'static str,
    objection: &'static str,
    rebuttals: &'static [&'static str],
    cues: &'static [&'static str],
) -> Objection {
    Objection {
        id,
        object: ObjectionObject,
        category,
        locale,
        objection,
        rebuttals,
        cues,
    }
}

use ObjectionCategory::{AlreadyHave, Authority, NotInterested, Price, Privacy, Timing, Trust};

pub static OBJECTIONS: &[Objection] = &[
    objection(
        "obj_price_too_expensive",
        Price,
        "en",
        "It's too expensive.",
        &[
            "I understand, price matters. Can I ask what you're comparing it with, so I can see whether we really cost more?",
            "Many customers felt the same until they saw what it saves them each month. Would a quick look at the numbers help?",
            "If budget is the concern, there may be a smaller plan that fits. Would you like me to check?",
        ],
        &[
            "too expensive",
            "costs too much",
            "can't afford",
            "too pricey",
            "out of my budget",
        ],
    ),
    objection(
        "obj_price_no_budget",
        Price,
        "en",
        "We don't have the budget right now.",
        &[
            "That's fair. When does your next budget period start? I can follow up then.",
            "Understood. Would it help if I sent the details so you have them ready for the next round?",
        ],
        &["no budget", "don't have the budget", "budget is spent"],
    ),
    objection(
        "obj_timing_busy",
        Timing,
        "en",
        "I'm busy right now.",
        &[
            "Of course, I'll be quick or call at a better time. When suits you?",
            "No problem. Would tomorrow morning or afternoon be better?",
        ],
        &["i'm busy", "im busy", "bad time", "in a meeting", "driving right now"],
    ),
    objection(
        "obj_timing_call_later",
        Timing,
        "en",
        "Call me later.",
        &[
            "Happy to. What day and time work best for you?",
            "Sure. Shall I book a short call so it's in both our calendars?",
        ],
        &["call me later", "try again later", "another time", "next week"],
    ),
    objection(
        "obj_not_interested",
        NotInterested,
        "en",
        "I'm not interested.",
        &[
            "Understood, and thank you for telling me. May I ask what you use today, so I don't call about the wrong thing again?",
            "No problem at all. Thank you for your time.",
        ],
        &["not interested", "no thanks", "no thank you"],
    ),
    objection(
        "obj_already_have_provider",
        AlreadyHave,
        "en",
        "We already have a provider.",
        &[
            "That's great, it means you know the value. What would you improve about it if you could?",
            "Many of our customers switched from another provider for one reason or another. Would a side-by-side comparison be useful?",
        ],
        &[
            "already have",
            "already use",
            "happy with our current",
            "we have someone",
        ],
    ),
    objection(
        "obj_trust_scam",
        Trust,
        "en",
        "Is this a scam?",
        &[
            "It's a fair question. I'm calling from the business named at the start of this call, and you can check us on our website before deciding anything.",
            "I won't ask for any payment or passwords on this call. Would you like our details so you can call us back yourself?",
        ],
        &["scam", "is this real", "legit", "fraud"],
    ),
    objection(
        "obj_trust_send_email",
        Trust,
        "en",
        "Just send me an email.",
        &[
            "Gladly. What's the best address? And what should I make sure the email covers for you?",
            "I will. So it's useful, may I ask one quick question about what you need?",
        ],
        &[
            "send me an email",
            "email me",
            "send it in writing",
            "send me something",
        ],
    ),
    objection(
        "obj_authority_not_decider",
        Authority,
        "en",
        "I'm not the one who decides.",
        &[
            "Thanks for telling me. Who would be the right person, and would you be comfortable introducing us?",
            "Understood. What would that person want to know first, so I can prepare?",
        ],
        &[
            "not the decision",
            "not the one who decides",
            "talk to my manager",
            "ask my boss",
            "my partner decides",
        ],
    ),
    objection(
        "obj_privacy_how_number",
        Privacy,
        "en",
        "How did you get my number?",
        &[
            "You are on our customer list. I can remove you from it right away if you wish.",
            "Your number came from your earlier contact with us. If you'd rather not be called, I'll make sure we don't call again.",
        ],
        &[
            "how did you get my number",
            "where did you get my number",
            "who gave you my number",
        ],
    ),
    objection(
        RECORDING_OBJECTION,
        Privacy,
        "en",
        "I don't want to be recorded.",
        &[
            "Understood. I can continue without recording, or a colleague can call you back, whichever you prefer.",
            "That's your choice. Would you like me to stop the recording now?",
        ],
        &[
            "don't record",
            "do not record",
            "don't want to be recorded",
            "stop recording",
        ],
    ),
    objection(
        "obj_price_hi_mehnga",
        Price,
        "hi",
        "यह बहुत महँगा है।",
        &[
            "मैं समझता हूँ, कीमत मायने रखती है। आप इसकी तुलना किससे कर रहे हैं, ताकि मैं देख सकूँ कि हम सच में महँगे हैं या नहीं?",
            "अगर बजट की चिंता है, तो एक छोटा प्लान भी है। क्या मैं आपके लिए देखूँ?",
        ],
        &["महँगा", "महंगा", "mehnga", "bahut mehenga"],
    ),
    objection(
        "obj_timing_hi_baad_mein",
        Timing,
        "hi",
        "मुझे बाद में फ़ोन कीजिए।",
        &[
            "ज़रूर। आपके लिए कौन सा दिन और समय ठीक रहेगा?",
            "बिल्कुल। क्या मैं एक छोटी कॉल बुक कर दूँ ताकि हम दोनों को याद रहे?",
        ],
        &["बाद में", "baad mein", "abhi busy"],
    ),
    objection(
        "obj_not_interested_hi",
        NotInterested,
        "hi",
        "मुझे इसमें दिलचस्पी नहीं है।",
        &[
            "ठीक है, बताने के लिए धन्यवाद। क्या मैं पूछ सकता हूँ कि आप अभी क्या इस्तेमाल करते हैं?",
            "कोई बात नहीं। आपके समय के लिए धन्यवाद।",
        ],
        &["दिलचस्पी नहीं", "dilchaspi nahi", "interest nahi"],
    ),
    objection(
        "obj_trust_hi_fraud",
        Trust,
        "hi",
        "यह कोई धोखा तो नहीं है?",
        &[
            "सही सवाल है। मैं इस कॉल की शुरुआत में बताए गए व्यवसाय की ओर से बात कर रहा हूँ, और आप कुछ भी तय करने से पहले हमारी वेबसाइट देख सकते हैं।",
            "मैं इस कॉल पर कोई भुगतान या पासवर्ड नहीं माँगूँगा। क्या आप हमारा नंबर लेकर ख़ुद वापस फ़ोन करना चाहेंगे?",
        ],
        &["धोखा", "dhokha", "fraud"],
    ),
    objection(
        "obj_privacy_hi_number",
        Privacy,
        "hi",
        "आपको मेरा नंबर कहाँ से मिला?",
        &[
            "आप हमारी ग्राहक सूची में हैं। आप चाहें तो मैं अभी आपको उससे हटा सकता हूँ।",
            "आपका नंबर हमसे आपके पिछले संपर्क से आया है। अगर आप कॉल नहीं चाहते, तो हम दोबारा फ़ोन नहीं करेंगे।",
        ],
        &["नंबर कहाँ से", "number kahan se"],
    ),
];

/// The objection to being recorded: a callee who raises it keeps the call unrecorded.
pub const RECORDING_OBJECTION: &str = "obj_privacy_recording";

/// The library entry whose cue `said` (lower-cased) contains, if any.
pub fn objection_heard(said: &str) -> Option<&'static Objection> {
    OBJECTIONS.iter().find(|o| o.cues.iter().any(|cue| said.contains(cue)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_objection_has_two_or_three_rebuttals_a_known_locale_and_a_unique_id() {
        for o in OBJECTIONS {
            assert!((2..=3).contains(&o.rebuttals.len()), "{}", o.id);
            assert!(OBJECTION_LOCALES.contains(&o.locale), "{}", o.id);
            assert!(
                !o.cues.is_empty() && o.cues.iter().all(|c| c.to_lowercase() == *c),
                "{}",
                o.id
            );
        }
        let mut ids: Vec<_> = OBJECTIONS.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), OBJECTIONS.len());
        for locale in OBJECTION_LOCALES {
            assert!(OBJECTIONS.iter().any(|o| o.locale == *locale));
        }
    }

    #[test]
    fn cues_are_found_in_what_people_say() {
        assert_eq!(
            objection_heard("honestly it's too expensive for us").map(|o| o.id),
            Some("obj_price_too_expensive")
        );
        assert_eq!(
            objection_heard("यह बहुत महँगा है").map(|o| o.category),
            Some(ObjectionCategory::Price)
        );
        assert!(objection_heard("sounds good").is_none());
    }
}
