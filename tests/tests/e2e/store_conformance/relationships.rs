//! Accounts, settings and the relationship life cycle, on every engine.

use super::*;

pub(super) async fn accounts_and_settings(store: Arc<dyn Store>) {
    let id = account("ann");
    assert!(store.account(&id).await.unwrap().is_none());
    let created = store
        .upsert_account(&id, "Ann", &[Role::Mentee], 5)
        .await
        .unwrap();
    assert_eq!(created.name, "Ann");
    assert_eq!(created.roles, vec![Role::Mentee]);
    assert!(!created.settings.read_receipts, "receipts are opt-in");
    let renamed = store
        .upsert_account(&id, "Ann B", &[Role::Mentee, Role::Mentor], 6)
        .await
        .unwrap();
    assert_eq!(renamed.name, "Ann B");
    assert_eq!(renamed.roles.len(), 2);
    let settings = Settings {
        read_receipts: true,
        default_pseudonym: Some("Owl".into()),
    };
    store.update_settings(&id, &settings).await.unwrap();
    assert_eq!(
        store.account(&id).await.unwrap().unwrap().settings,
        settings
    );
    store.ping().await.unwrap();
}

pub(super) async fn relationship_life_cycle(store: Arc<dyn Store>) {
    let p = pair(&*store, false).await;
    let pending = store
        .membership(&p.conversation, &p.mentor_account)
        .await
        .unwrap()
        .expect("mentor is a member");
    assert_eq!(pending.conversation.state, ConversationState::Pending);
    let refused = store
        .append(message(&p, &p.mentee, "early", "too early"), None)
        .await;
    assert!(matches!(refused, Err(WriteError::ConversationClosed)));
    let stranger = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: account("stranger"),
            accept: true,
            display_name: None,
            capacities: Vec::new(),
            now: 3,
        })
        .await;
    assert!(matches!(stranger, Err(WriteError::Conflict)));
    let active = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: p.mentor_account.clone(),
            accept: true,
            display_name: None,
            capacities: Vec::new(),
            now: 4,
        })
        .await
        .unwrap();
    assert_eq!(active.state, RelationshipState::Active);
    assert!(
        active
            .parties
            .iter()
            .all(|party| party.response == Response::Accepted)
    );
    let again = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: p.mentor_account.clone(),
            accept: false,
            display_name: None,
            capacities: Vec::new(),
            now: 5,
        })
        .await;
    assert!(
        matches!(again, Err(WriteError::Conflict)),
        "no second answer"
    );
    let events = store.events(&all_events(&p.conversation)).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::System);
    assert_eq!(events[0].seq, 1);
    assert_eq!(
        store
            .relationship_of_conversation(&p.conversation)
            .await
            .unwrap(),
        Some(p.relationship.clone())
    );
    assert_eq!(
        store.active_mentee_count(&p.mentor_account).await.unwrap(),
        1
    );
    for who in [&p.mentee_account, &p.mentor_account] {
        let listed = store.relationships_of(who).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, p.relationship);
    }
    let record = store.relationship(&p.relationship).await.unwrap().unwrap();
    assert_eq!(record.introduction.unwrap().ciphertext, b"hello".to_vec());
    let members = store.members(&p.conversation).await.unwrap();
    assert_eq!(members.len(), 2);
}

pub(super) async fn declined_requests_close(store: Arc<dyn Store>) {
    let p = pair(&*store, false).await;
    let declined = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: p.mentor_account.clone(),
            accept: false,
            display_name: None,
            capacities: Vec::new(),
            now: 9,
        })
        .await
        .unwrap();
    assert_eq!(declined.state, RelationshipState::Declined);
    let membership = store
        .membership(&p.conversation, &p.mentee_account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.conversation.state, ConversationState::Closed);
    let refused = store.append(message(&p, &p.mentee, "x", "hi"), None).await;
    assert!(matches!(refused, Err(WriteError::ConversationClosed)));
    assert_eq!(
        store.active_mentee_count(&p.mentor_account).await.unwrap(),
        0
    );
}
