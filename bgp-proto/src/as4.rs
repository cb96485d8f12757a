//! Sending to a 2-octet-AS ("OLD") speaker (RFC 6793 §4.2.2).

use crate::attr::{type_code, AttrValue, Attribute};

/// Prepares an attribute list for a session without 4-octet AS support: when AS_PATH
/// or AGGREGATOR holds an ASN above 65535, the encoder writes AS_TRANS in their place,
/// so the real values must travel in AS4_PATH and AS4_AGGREGATOR (RFC 6793 §4.2.2).
/// Adds those (replacing any stale ones) and returns whether it changed anything.
/// On a 4-octet session, AS4_PATH and AS4_AGGREGATOR must not be sent (RFC 6793 §4.1);
/// use [`strip_as4_attributes`] there.
pub fn add_as4_attributes(attrs: &mut Vec<Attribute>) -> bool {
    let mut changed = strip_as4_attributes(attrs);
    let mut extra = Vec::new();
    for a in attrs.iter() {
        match &a.value {
            AttrValue::AsPath(p) if p.has_wide_asn() => {
                // RFC 6793 §4.2.2: AS_CONFED segments are not carried in AS4_PATH.
                let mut p4 = p.clone();
                p4.segments.retain(|s| !s.kind.is_confed());
                extra.push(Attribute::new(AttrValue::As4Path(p4)));
            }
            AttrValue::Aggregator(g) if g.asn > 0xffff => extra.push(Attribute::new(AttrValue::As4Aggregator(*g))),
            _ => {}
        }
    }
    changed |= !extra.is_empty();
    attrs.extend(extra);
    changed
}

/// Removes AS4_PATH and AS4_AGGREGATOR; returns whether any were present.
pub fn strip_as4_attributes(attrs: &mut Vec<Attribute>) -> bool {
    let before = attrs.len();
    attrs.retain(|a| !matches!(a.type_code(), type_code::AS4_PATH | type_code::AS4_AGGREGATOR));
    attrs.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{Aggregator, AsPath};
    use crate::ctx::{DecodeCtx, EncodeCtx};
    use crate::message::Message;
    use crate::update::Update;

    #[test]
    fn wide_asn_survives_a_two_octet_hop() {
        let path = AsPath::from_sequence([64512, 4_200_000_001, 65001]);
        let mut attrs = vec![
            Attribute::new(AttrValue::Origin(crate::attr::Origin::Igp)),
            Attribute::new(AttrValue::AsPath(path.clone())),
            Attribute::new(AttrValue::NextHop("198.18.0.1".parse().unwrap())),
            Attribute::new(AttrValue::Aggregator(Aggregator {
                asn: 4_200_000_001,
                address: "198.18.0.9".parse().unwrap(),
            })),
        ];
        assert!(add_as4_attributes(&mut attrs));
        let u = Update {
            attributes: attrs.into(),
            nlri: smallvec::smallvec![crate::Nlri::new("10.0.0.0/8".parse().unwrap())],
            ..Default::default()
        };
        let two = EncodeCtx { four_octet_as: false, ..Default::default() };
        let bytes = Message::Update(u).to_bytes(&two).unwrap();
        let dctx = DecodeCtx { four_octet_as: false, ..Default::default() };
        let Message::Update(back) = Message::decode(&bytes, &dctx).unwrap() else { panic!("not an UPDATE") };
        // On the wire AS_PATH carries AS_TRANS; the merge recovers the real path.
        assert_eq!(
            back.attribute(type_code::AS_PATH),
            Some(&AttrValue::AsPath(AsPath::from_sequence([64512, 23456, 65001])))
        );
        assert_eq!(back.effective_as_path(), Some(path));
    }
}
