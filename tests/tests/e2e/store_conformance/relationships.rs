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
    // The rules are the domain's, applied to what the store's transaction read.
    let stranger = respond(&*store, &p.relationship, &account("stranger"), true, 3).await;
    assert!(refused_with(&stranger, ErrorCode::NotFound), "{stranger:?}");
    let active = respond(&*store, &p.relationship, &p.mentor_account, true, 4)
        .await
        .unwrap();
    assert_eq!(active.state, RelationshipState::Active);
    assert!(
        active
            .parties
            .iter()
            .all(|party| party.response == Response::Accepted)
    );
    let again = respond(&*store, &p.relationship, &p.mentor_account, false, 5).await;
    assert!(
        refused_with(&again, ErrorCode::Conflict),
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
    let declined = respond(&*store, &p.relationship, &p.mentor_account, false, 9)
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

pub(super) async fn relationship_changes_compare_and_set(store: Arc<dyn Store>) {
    let p = pair(&*store, false).await;
    let before = store.relationship(&p.relationship).await.unwrap().unwrap();
    // A write decided on another version than the one the transaction read never lands.
    let command = Command::Respond {
        account: p.mentor_account.clone(),
        accept: true,
        pseudonym: false,
    };
    let request = Request::new(command, 3);
    let stale = store
        .change_relationship(&p.relationship, &|current, active| {
            let mut write = request.decide(current, active)?;
            write.version += 1;
            Ok(write)
        })
        .await;
    assert!(matches!(stale, Err(WriteError::Conflict)), "{stale:?}");
    let after = store.relationship(&p.relationship).await.unwrap().unwrap();
    assert_eq!(after.state, RelationshipState::Pending);
    assert_eq!(after.version, before.version);
    let events = store.events(&all_events(&p.conversation)).await.unwrap();
    assert!(events.is_empty(), "nothing appended");
    // Two answers at once: one is decided on the other's result and refused.
    let (accepted, declined) = tokio::join!(
        respond(&*store, &p.relationship, &p.mentor_account, true, 4),
        respond(&*store, &p.relationship, &p.mentor_account, false, 4),
    );
    let won: Vec<_> = [&accepted, &declined]
        .into_iter()
        .filter_map(|r| r.as_ref().ok())
        .collect();
    assert_eq!(won.len(), 1, "{accepted:?} / {declined:?}");
    assert!(
        refused_with(&accepted, ErrorCode::Conflict)
            || refused_with(&declined, ErrorCode::Conflict),
        "{accepted:?} / {declined:?}"
    );
    assert_eq!(won[0].version, before.version + 1);
}
