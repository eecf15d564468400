//! lqos-cluster against a real 3-member etcd (the Debian binary): election with verification,
//! fenced publication, the watch, a deposed leader refused, no publication without quorum.

use lqos_cluster::testing::EtcdCluster;
use lqos_cluster::{
    campaign, connect, fetch, latest, publish, status, ClusterError, Keys, Lease, ManifestWatch,
    Snapshot,
};
use std::time::{Duration, Instant};

fn fleet(endpoints: Vec<String>, name: &str) -> lqos_config::Fleet {
    lqos_config::Fleet {
        endpoints,
        cluster: "t".into(),
        name: name.into(),
        share: vec!["*".into()],
        standby_of: None,
        campaign: true,
        lease_ttl: Duration::from_secs(2),
        tls: None,
        user: None,
    }
}

fn snapshot(csv: &str) -> Snapshot {
    Snapshot {
        files: vec![
            ("ShapedDevices.csv".into(), csv.as_bytes().to_vec()),
            ("network.json".into(), b"{}".to_vec()),
        ],
    }
}

#[tokio::test(flavor = "current_thread")]
async fn election_publication_fencing_and_quorum() -> anyhow::Result<()> {
    let mut etcd = EtcdCluster::start(3)?;
    let keys = Keys::new("t");
    let a = connect(&fleet(etcd.endpoints(), "a")).await?;
    let b = connect(&fleet(etcd.endpoints(), "b")).await?;
    let lease_a = Lease::grant(&a, Duration::from_secs(2)).await?;

    // A box's registration (a standby reads its primary's share) and its leased status.
    let reg = status::Registration {
        name: "a".into(),
        share: vec!["SiteA".into()],
        standby_of: None,
    };
    status::register(&a, &keys, &reg).await?;
    assert_eq!(status::registration(&b, &keys, "a").await?, Some(reg));
    assert_eq!(status::registration(&b, &keys, "nobody").await?, None);
    let me = status::BoxStatus {
        name: "a".into(),
        applied_generation: Some(4),
        health: "ok".into(),
        ..Default::default()
    };
    status::report(&a, &keys, lease_a.id, &me).await?;
    assert_eq!(status::all(&b, &keys).await?, vec![me]);
    let lead_a = campaign(&a, &keys, "a", &lease_a).await?;
    assert!(lead_a.token > 0);
    assert_eq!(
        lqos_cluster::current_leader(&a, &keys)
            .await?
            .map(|l| (l.name, l.token)),
        Some(("a".to_string(), lead_a.token))
    );

    // b campaigns and waits while a leads.
    let lease_b = Lease::grant(&b, Duration::from_secs(2)).await?;
    let (_, rev) = latest(&b, &keys).await?;
    let mut watch = ManifestWatch::start(&b, &keys, rev + 1).await?;
    let b2 = b.clone();
    let keys2 = keys.clone();
    let campaign_b = tokio::spawn(async move {
        let r = campaign(&b2, &keys2, "b", &lease_b).await;
        (r, lease_b)
    });

    // a publishes; b's watch sees it and fetches the same bytes.
    let m1 = publish(&a, &keys, &lead_a, &lease_a, "a", &snapshot("1"))
        .await?
        .expect("published");
    assert_eq!((m1.token, m1.generation), (lead_a.token, 1));
    assert_eq!(
        publish(&a, &keys, &lead_a, &lease_a, "a", &snapshot("1")).await?,
        None,
        "same inputs: no new generation"
    );
    let (seen, _) = tokio::time::timeout(Duration::from_secs(5), watch.next()).await??;
    assert_eq!(seen, m1);
    assert_eq!(fetch(&b, &keys, &seen).await?, snapshot("1"));
    // A large snapshot goes up in several chunks.
    let big: String = (0..400_000u64)
        .map(|i| format!("{i:x},{}\n", i * 7919 % 1000003))
        .collect();
    let m2 = publish(&a, &keys, &lead_a, &lease_a, "a", &snapshot(&big))
        .await?
        .expect("published");
    assert_eq!(m2.generation, 2);
    let (seen, _) = tokio::time::timeout(Duration::from_secs(5), watch.next()).await??;
    assert_eq!(fetch(&b, &keys, &seen).await?, snapshot(&big));

    // a's lease ends behind its back (as after a pause past the TTL): its local deadline
    // still says valid, but etcd refuses its publication; b leads with a higher token.
    let mut admin = a.clone();
    admin.lease_revoke(lease_a.id).await?;
    let started = Instant::now();
    let (lead_b, lease_b) = tokio::time::timeout(Duration::from_secs(10), campaign_b).await??;
    let lead_b = lead_b?;
    assert!(lead_b.token > lead_a.token, "tokens grow across leaders");
    assert!(started.elapsed() < Duration::from_secs(3));
    let refused = publish(&a, &keys, &lead_a, &lease_a, "a", &snapshot("stale")).await;
    assert!(
        matches!(
            refused,
            Err(ClusterError::NotLeader { .. }) | Err(ClusterError::LeaseLost)
        ),
        "{refused:?}"
    );
    let (now, _) = latest(&b, &keys).await?;
    assert_eq!(
        now.map(|(m, _)| m.generation),
        Some(2),
        "the deposed leader wrote nothing"
    );
    let m3 = publish(&b, &keys, &lead_b, &lease_b, "b", &snapshot("3"))
        .await?
        .expect("published");
    assert_eq!(
        (m3.token, m3.generation),
        (lead_b.token, 3),
        "generations go on across leaders"
    );

    // One member down: still a quorum. Two down: no publication, and b's lease is lost.
    etcd.kill(0);
    // The request that finds the member gone fails; the next goes to a live one.
    let mut m4 = publish(&b, &keys, &lead_b, &lease_b, "b", &snapshot("4")).await;
    for _ in 0..5 {
        if !matches!(m4, Err(ClusterError::Etcd { .. })) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        m4 = publish(&b, &keys, &lead_b, &lease_b, "b", &snapshot("4")).await;
    }
    assert!(matches!(m4, Ok(Some(_))), "{m4:?}");
    etcd.kill(1);
    let m5 = tokio::time::timeout(
        Duration::from_secs(8),
        publish(&b, &keys, &lead_b, &lease_b, "b", &snapshot("5")),
    )
    .await;
    assert!(
        !matches!(m5, Ok(Ok(Some(_)))),
        "published without quorum: {m5:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), lease_b.lost()).await?;
    assert!(!lease_b.is_valid());
    // Quorum back: the old term cannot publish; a new campaign can.
    etcd.restart(0)?;
    etcd.restart(1)?;
    etcd.wait_healthy(Duration::from_secs(20))?;
    let after = publish(&b, &keys, &lead_b, &lease_b, "b", &snapshot("6")).await;
    assert!(matches!(after, Err(ClusterError::LeaseLost)), "{after:?}");
    let b = connect(&fleet(etcd.endpoints(), "b")).await?;
    let lease = Lease::grant(&b, Duration::from_secs(2)).await?;
    let lead =
        tokio::time::timeout(Duration::from_secs(15), campaign(&b, &keys, "b", &lease)).await??;
    assert!(lead.token > lead_b.token);
    let m = publish(&b, &keys, &lead, &lease, "b", &snapshot("7"))
        .await?
        .expect("published");
    assert_eq!(
        m.generation, 5,
        "generation 5 was never published while quorum was lost"
    );
    Ok(())
}
