//! End-to-end tests over real HTTP against the built `traek-server`.

mod common;

use common::*;
use dsc_core::pull::auth::{authorization_header, format_date};
use dsc_core::pull::checksum::sha256_hex;
use dsc_core::pull::client::{ClientError, Reply};
use dsc_core::pull::messages::{NodeStatus, RegistrationMessageType as Rmt};
use serde_json::json;
use uuid::Uuid;

fn new_agent() -> Uuid {
    Uuid::new_v4()
}

fn registration_with_a_valid_key_succeeds_and_bad_credentials_are_refused(backend: Backend) {
    let s = Server::start_on(backend);
    let c = s.client(new_agent());
    let req = registration(Rmt::ConfigurationRepository, Some(&["Web"]));
    let r = c.register(KEY, &req).unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("ProtocolVersion"), Some("2.0"));
    assert!(r.body.is_empty());
    // re-registration of a known agent succeeds
    assert_eq!(c.register(KEY, &req).unwrap().status, 204);

    let body = serde_json::to_vec(&req).unwrap();
    let now = format_date(time::OffsetDateTime::now_utc());
    // wrong key
    assert_eq!(c.register("wrong-key", &req).unwrap().status, 401);
    // lowercase key: keys are case-sensitive
    assert_eq!(c.register(&KEY.to_lowercase(), &req).unwrap().status, 401);
    // stale date
    let old = "2016-08-15T21:25:51.8654321Z";
    assert_eq!(
        c.register_raw(
            &body,
            Some(old),
            Some(&authorization_header(KEY, &body, old))
        )
        .unwrap()
        .status,
        401
    );
    // malformed Authorization headers
    for bad in [
        "Shared",
        "Shared not*base64",
        "Basic abc",
        "Shared YWJj",
        "",
    ] {
        assert_eq!(
            c.register_raw(&body, Some(&now), Some(bad)).unwrap().status,
            401,
            "{bad:?}"
        );
    }
    // missing Authorization, missing or malformed date
    assert_eq!(c.register_raw(&body, Some(&now), None).unwrap().status, 401);
    assert_eq!(
        c.register_raw(&body, None, Some(&authorization_header(KEY, &body, &now)))
            .unwrap()
            .status,
        400
    );
    assert_eq!(
        c.register_raw(
            &body,
            Some("yesterday"),
            Some(&authorization_header(KEY, &body, "yesterday"))
        )
        .unwrap()
        .status,
        400
    );
    // body signed, then changed
    let mut tampered = body.clone();
    tampered[5] ^= 1;
    assert_eq!(
        c.register_raw(
            &tampered,
            Some(&now),
            Some(&authorization_header(KEY, &body, &now))
        )
        .unwrap()
        .status,
        401
    );
}

fn unknown_json_members_and_wrong_types_are_400(backend: Backend) {
    let s = Server::start_on(backend);
    let c = s.client(new_agent());
    let req = registration(Rmt::ConfigurationRepository, Some(&["Web"]));
    let text = serde_json::to_string(&req).unwrap();
    for body in [
        text.replace("\"NodeName\"", "\"Unexpected\":1,\"NodeName\""),
        text.replace("\"Version\":3", "\"Version\":\"3\""),
        "{broken".to_string(),
    ] {
        let now = format_date(time::OffsetDateTime::now_utc());
        let r = c
            .register_raw(
                body.as_bytes(),
                Some(&now),
                Some(&authorization_header(KEY, body.as_bytes(), &now)),
            )
            .unwrap();
        assert_eq!(r.status, 400, "{body}");
    }
    c.register(KEY, &req).unwrap();
    let r = c
        .request(
            "POST",
            &format!("/Nodes(AgentId='{}')/GetDscAction", c.agent_id),
            &[],
            Some(br#"{"ClientStatus":[{"Checksum":"","Bogus":1}]}"#),
        )
        .unwrap();
    assert_eq!(r.status, 400);
    let r = c
        .request(
            "POST",
            &format!("/Nodes(AgentId='{}')/GetDscAction", c.agent_id),
            &[],
            Some(br#"{"ClientStatus":[{"Checksum":"","ChecksumAlgorithm":"MD5"}]}"#),
        )
        .unwrap();
    assert_eq!(r.status, 400);
}

fn unregistered_agents_get_nothing(backend: Backend) {
    let s = Server::start_on(backend);
    s.admin("PUT", "/api/v1/configurations/Web", Some(b"mof"));
    let c = s.client(new_agent());
    assert!(matches!(
        c.get_dsc_action(&action(&[(None, "")])),
        Err(ClientError::Status { status: 401, .. })
    ));
    assert!(matches!(
        c.get_configuration("Web"),
        Err(ClientError::Status { status: 401, .. })
    ));
    assert_eq!(
        c.send_report(&report(Uuid::new_v4(), json!({})))
            .unwrap()
            .status,
        401
    );
    assert!(matches!(
        c.get_reports(None),
        Err(ClientError::Status { status: 401, .. })
    ));
    let r = c
        .request(
            "GET",
            "/Modules(ModuleName='x',ModuleVersion='1.0')/ModuleContent",
            &[],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 401, "GetModule without AgentId header");
}

fn get_dsc_action_answers_each_outcome(backend: Backend) {
    let s = Server::start_on(backend);
    let mof = utf16_mof("instance of MSFT_Credential {};");
    // No registered name: Ok, no details.
    let none = s.client(new_agent());
    none.register(KEY, &registration(Rmt::ConfigurationRepository, Some(&[])))
        .unwrap();
    let a = none.get_dsc_action(&action(&[(None, "")])).unwrap();
    assert_eq!((a.node_status, a.details.len()), (NodeStatus::Ok, 0));

    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    // Assigned but not stored: Retry.
    assert_eq!(
        c.get_dsc_action(&action(&[(None, "")]))
            .unwrap()
            .node_status,
        NodeStatus::Retry
    );
    let (st, meta) = s.admin("PUT", "/api/v1/configurations/Web", Some(&mof));
    assert_eq!(st, 200);
    let checksum = meta["checksum"].as_str().unwrap().to_string();
    assert_eq!(checksum, sha256_hex(&mof));
    // First pull: GetConfiguration, echoing the registered name.
    let a = c.get_dsc_action(&action(&[(None, "")])).unwrap();
    assert_eq!(a.node_status, NodeStatus::GetConfiguration);
    assert_eq!(a.details[0].configuration_name, "Web");
    // Same checksum (any case): Ok. Different: GetConfiguration.
    assert_eq!(
        c.get_dsc_action(&action(&[(None, &checksum.to_lowercase())]))
            .unwrap()
            .node_status,
        NodeStatus::Ok
    );
    assert_eq!(
        c.get_dsc_action(&action(&[(None, &"0".repeat(64))]))
            .unwrap()
            .node_status,
        NodeStatus::GetConfiguration
    );
    // The raw answer carries the OData metadata and never UpdateMetaConfig.
    let raw = c
        .request(
            "POST",
            &format!("/Nodes(AgentId='{}')/GetDscAction", c.agent_id),
            &[],
            Some(br#"{"ClientStatus":[{"Checksum":"","ChecksumAlgorithm":"SHA-256"}]}"#),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
    assert!(
        v["odata.metadata"]
            .as_str()
            .unwrap()
            .ends_with("/PSDSCPullServer.svc/$metadata#MSFT.DSCNodeStatus"),
        "{v}"
    );

    // Several names without partials: Ok with no details (never UpdateMetaConfig).
    let many = s.client(new_agent());
    many.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web", "Db"])),
    )
    .unwrap();
    let a = many.get_dsc_action(&action(&[(None, "")])).unwrap();
    assert_eq!((a.node_status, a.details.len()), (NodeStatus::Ok, 0));
}

fn partial_configurations_are_answered_one_by_one(backend: Backend) {
    let s = Server::start_on(backend);
    s.admin("PUT", "/api/v1/configurations/PartialOne", Some(b"one"));
    s.admin("PUT", "/api/v1/configurations/PartialTwo", Some(b"two"));
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(
            Rmt::ConfigurationRepository,
            Some(&["PartialOne", "PartialTwo"]),
        ),
    )
    .unwrap();
    let one = sha256_hex(b"one");
    let a = c
        .get_dsc_action(&action(&[
            (Some("PartialOne"), &one),
            (Some("PartialTwo"), ""),
            (Some("NotMine"), ""),
        ]))
        .unwrap();
    assert_eq!(a.node_status, NodeStatus::GetConfiguration);
    let details: Vec<(String, NodeStatus)> = a
        .details
        .iter()
        .map(|d| (d.configuration_name.clone(), d.status))
        .collect();
    assert_eq!(
        details,
        vec![
            ("PartialOne".into(), NodeStatus::Ok),
            ("PartialTwo".into(), NodeStatus::GetConfiguration)
        ]
    );
}

fn content_is_served_byte_for_byte_with_its_checksum(backend: Backend) {
    let s = Server::start_on(backend);
    let mof =
        utf16_mof("/* compiled */ instance of OMI_ConfigurationDocument { Version=\"2.0.0\"; };");
    s.admin("PUT", "/api/v1/configurations/Web", Some(&mof));
    let zip = tiny_zip("xSmbShare.psd1", b"@{ ModuleVersion = '1.1.0.0' }");
    let (st, _) = s.admin("PUT", "/api/v1/modules/xSmbShare/1.1.0.0", Some(&zip));
    assert_eq!(st, 200);
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let got = c.get_configuration("web").unwrap(); // names match case-insensitively
    assert_eq!(got.bytes, mof);
    assert_eq!(&got.bytes[..2], &[0xFF, 0xFE], "the UTF-16LE BOM is kept");
    assert_eq!(got.checksum, sha256_hex(&mof));
    let raw = c
        .request(
            "GET",
            &format!(
                "/Nodes(AgentId='{}')/Configurations(ConfigurationName='Web')/ConfigurationContent",
                c.agent_id
            ),
            &[],
            None,
        )
        .unwrap();
    assert_eq!(raw.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(raw.header("ChecksumAlgorithm"), Some("SHA-256"));
    assert_eq!(
        raw.header("Content-Length"),
        Some(mof.len().to_string().as_str())
    );
    // Module name and version match case-insensitively; empty version is the newest.
    for (name, version) in [
        ("xSmbShare", "1.1.0.0"),
        ("XSMBSHARE", "1.1.0.0"),
        ("xsmbshare", ""),
    ] {
        assert_eq!(
            c.get_module(name, version).unwrap().bytes,
            zip,
            "{name} {version}"
        );
    }
    assert!(matches!(
        c.get_module("xSmbShare", "9.9"),
        Err(ClientError::Status { status: 404, .. })
    ));
    // A name not assigned to the agent is not served.
    s.admin("PUT", "/api/v1/configurations/Secret", Some(b"secret"));
    assert!(matches!(
        c.get_configuration("Secret"),
        Err(ClientError::Status { status: 404, .. })
    ));
}

fn report_server_registration_does_not_erase_configuration_names(backend: Backend) {
    let s = Server::start_on(backend);
    s.admin("PUT", "/api/v1/configurations/Web", Some(b"mof"));
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    c.register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    c.register(KEY, &registration(Rmt::ResourceRepository, None))
        .unwrap();
    assert_eq!(
        c.get_dsc_action(&action(&[(None, "")]))
            .unwrap()
            .node_status,
        NodeStatus::GetConfiguration
    );
    let (_, node) = s.admin("GET", &format!("/api/v1/nodes/{}", c.agent_id), None);
    assert_eq!(node["registeredNames"], json!(["Web"]));
    assert_eq!(node["registrationTypes"].as_array().unwrap().len(), 3);
}

fn a_jobs_reports_are_kept_and_merged(backend: Backend) {
    let s = Server::start_on(backend);
    let c = s.client(new_agent());
    c.register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    let job = Uuid::new_v4();
    let start = report(
        job,
        json!({"NodeName": "CLIENT", "LCMVersion": "2.0", "StatusData": ["{\"Type\":\"Initial\"}"]}),
    );
    let err = report(
        job,
        json!({"Errors": ["{\"ErrorMessage\":\"boom\",\"ErrorCode\":\"6\"}"]}),
    );
    let fin = report(
        job,
        json!({"Status": "Failure", "RefreshMode": "Pull", "EndTime": "2016-08-15T14:26:00.0000000-07:00", "AdditionalData": [{"Key": "OSVersion", "Value": "{}"}], "StatusData": ["{\"Status\":\"Failure\"}"]}),
    );
    for body in [&start, &err, &fin] {
        let r = c.send_report(body).unwrap();
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["value"], "SavedReport");
    }
    let all = c.get_reports(None).unwrap();
    assert_eq!(all["value"].as_array().unwrap().len(), 3);
    assert_eq!(
        serde_json::to_vec(&all["value"][0]).unwrap(),
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&start).unwrap()).unwrap()
    );
    let merged = c.get_reports(Some(job)).unwrap();
    assert_eq!(merged["NodeName"], "CLIENT");
    assert_eq!(merged["Status"], "Failure");
    assert_eq!(merged["Errors"].as_array().unwrap().len(), 1);
    assert_eq!(merged["StatusData"].as_array().unwrap().len(), 2);
    assert!(matches!(
        c.get_reports(Some(Uuid::new_v4())),
        Err(ClientError::Status { status: 404, .. })
    ));
    // Bad reports.
    for bad in [
        &b""[..],
        b"{}",
        br#"{"JobId":"nope"}"#,
        br#"{"JobId":"d6a09c93-632e-11e6-9c21-80e6500eb60d","StartTime":"noon"}"#,
        b"[1,2]",
    ] {
        assert_eq!(
            c.send_report(bad).unwrap().status,
            400,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // The admin view: latest status, filters.
    let (_, node) = s.admin("GET", &format!("/api/v1/nodes/{}", c.agent_id), None);
    assert_eq!(node["lastReportStatus"], "Failure");
    let (_, failures) = s.admin(
        "GET",
        &format!("/api/v1/reports?agent={}&status=Failure", c.agent_id),
        None,
    );
    assert_eq!(failures["reports"].as_array().unwrap().len(), 1);
    assert_eq!(
        failures["reports"][0]["report"]["AdditionalData"][0]["Key"],
        "OSVersion"
    );
    let (_, job_view) = s.admin("GET", &format!("/api/v1/jobs/{job}"), None);
    assert_eq!(job_view["Status"], "Failure");
}

fn admin_assignment_takes_precedence_and_unregister_removes_the_node(backend: Backend) {
    let s = Server::start_on(backend);
    s.admin("PUT", "/api/v1/configurations/Web", Some(b"web"));
    s.admin("PUT", "/api/v1/configurations/Db", Some(b"db"));
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let (st, _) = s.admin(
        "PUT",
        &format!("/api/v1/nodes/{}/configurations", c.agent_id),
        Some(br#"["Db"]"#),
    );
    assert_eq!(st, 200);
    let a = c.get_dsc_action(&action(&[(None, "")])).unwrap();
    assert_eq!(a.details[0].configuration_name, "Db");
    assert_eq!(c.get_configuration("Db").unwrap().bytes, b"db");
    assert!(c.get_configuration("Web").is_err());
    assert_eq!(
        s.admin(
            "PUT",
            &format!("/api/v1/nodes/{}/configurations", Uuid::new_v4()),
            Some(br#"["Db"]"#)
        )
        .0,
        404
    );
    assert_eq!(
        s.admin(
            "PUT",
            &format!("/api/v1/nodes/{}/configurations", c.agent_id),
            Some(b"{}")
        )
        .0,
        400
    );
    assert_eq!(
        s.admin(
            "DELETE",
            &format!("/api/v1/nodes/{}/configurations", c.agent_id),
            None
        )
        .0,
        204
    );
    assert_eq!(
        c.get_dsc_action(&action(&[(None, "")])).unwrap().details[0].configuration_name,
        "Web"
    );
    let (_, list) = s.admin("GET", "/api/v1/nodes?limit=10", None);
    assert_eq!(list["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(list["nodes"][0]["nodeName"], "CLIENT");
    assert_eq!(
        list["nodes"][0]["ipAddresses"],
        json!(["192.168.1.120", "127.0.0.1"])
    );
    assert!(list["nodes"][0]["lastSeen"].is_number());
    assert_eq!(
        s.admin("DELETE", &format!("/api/v1/nodes/{}", c.agent_id), None)
            .0,
        204
    );
    assert!(matches!(
        c.get_dsc_action(&action(&[(None, "")])),
        Err(ClientError::Status { status: 401, .. })
    ));
}

fn admin_api_needs_the_token_and_manages_content_and_keys(backend: Backend) {
    let s = Server::start_on(backend);
    let plain = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    assert_eq!(
        plain
            .request("GET", "/api/v1/nodes", &[], None)
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        plain
            .request(
                "GET",
                "/api/v1/nodes",
                &[("Authorization", "Bearer wrong")],
                None
            )
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        plain
            .request("GET", "/api/v1/openapi.json", &[], None)
            .unwrap()
            .status,
        200
    );
    s.admin("PUT", "/api/v1/configurations/A", Some(b"a"));
    assert_eq!(
        s.admin("PUT", "/api/v1/modules/M/1.0", Some(b"not a zip"))
            .0,
        400
    );
    assert_eq!(
        s.admin(
            "PUT",
            "/api/v1/modules/M/1.0",
            Some(&tiny_zip("m.psd1", b"x"))
        )
        .0,
        200
    );
    let (_, list) = s.admin("GET", "/api/v1/configurations", None);
    assert_eq!(list["configurations"][0]["name"], "A");
    let (_, mods) = s.admin("GET", "/api/v1/modules", None);
    assert_eq!(mods["modules"][0]["version"], "1.0");
    assert_eq!(s.admin("DELETE", "/api/v1/configurations/A", None).0, 204);
    assert_eq!(s.admin("DELETE", "/api/v1/configurations/A", None).0, 404);
    // keys: add, register with it, revoke, refused
    let (st, added) = s.admin("POST", "/api/v1/keys", Some(br#"{"key":"second-key"}"#));
    assert_eq!(st, 201);
    let c = s.client(new_agent());
    let req = registration(Rmt::ConfigurationRepository, Some(&["A"]));
    assert_eq!(c.register("second-key", &req).unwrap().status, 204);
    let id = added["id"].as_str().unwrap();
    assert_eq!(
        s.admin("DELETE", &format!("/api/v1/keys/{id}"), None).0,
        204
    );
    assert_eq!(c.register("second-key", &req).unwrap().status, 401);
    let (_, keys) = s.admin("GET", "/api/v1/keys", None);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    let (st, generated) = s.admin("POST", "/api/v1/keys", None);
    assert_eq!(st, 201);
    assert_eq!(generated["key"].as_str().unwrap().len(), 36);
}

fn hostile_requests_get_4xx_and_the_server_stays_up(backend: Backend) {
    let s = Server::start_on(backend);
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let agent = c.agent_id;
    let paths = [
        format!(
            "/Nodes(AgentId='{agent}')/Configurations(ConfigurationName='..')/ConfigurationContent"
        ),
        format!(
            "/Nodes(AgentId='{agent}')/Configurations(ConfigurationName='..%2F..%2Fetc%2Fpasswd')/ConfigurationContent"
        ),
        format!(
            "/Nodes(AgentId='{agent}')/Configurations(ConfigurationName='a/b')/ConfigurationContent"
        ),
        "/Modules(ModuleName='..%5C..%5Cx',ModuleVersion='1.0')/ModuleContent".to_string(),
        "/Nodes(AgentId='not-a-guid')/GetDscAction".to_string(),
        "/Nodes(AgentId='{00000000-0000-0000-0000-00000000000G}')".to_string(),
        "/Nodes(AgentId='unterminated/SendReport".to_string(),
    ];
    for p in &paths {
        let r = c
            .request("GET", p, &[("AgentId", &agent.to_string())], None)
            .unwrap();
        assert!((400..500).contains(&r.status), "{p} -> {}", r.status);
    }
    for m in ["PUT", "POST"] {
        let r = c
            .request(m, "/Nodes(AgentId='not-a-guid')", &[], Some(b"{"))
            .unwrap();
        assert!((400..500).contains(&r.status));
    }
    let r = c
        .request(
            "POST",
            &format!("/Nodes(AgentId='{agent}')/GetDscAction"),
            &[],
            Some(b"\x00\xff garbage"),
        )
        .unwrap();
    assert_eq!(r.status, 400);
    // a body over the limit
    // (the server answers 413 without reading the rest, so the client may instead see the
    // connection closed under its upload; either way the server stays up, checked below)
    let huge = vec![b'{'; 17 * 1024 * 1024];
    let r = c.request(
        "POST",
        &format!("/Nodes(AgentId='{agent}')/SendReport"),
        &[],
        Some(&huge),
    );
    match r {
        Ok(r) => assert_eq!(r.status, 413),
        Err(ClientError::Http(e)) => eprintln!("connection closed during the upload: {e}"),
        Err(e) => panic!("unexpected answer to an oversized body: {e}"),
    }
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/..", Some(b"x")).0,
        400
    );
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/packages/Web",
        Some(b"PK\x03\x04 not really a zip"),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("not a valid package"),
        "{v}"
    );
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/a%2F..%2Fb", Some(b"x"))
            .0,
        400
    );
    assert!(s.healthy());
    // nothing was written outside the data directory
    let parent = s.data.parent().unwrap();
    let entries: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, vec!["data"]);
}

fn health_readiness_and_metrics_are_served(backend: Backend) {
    let s = Server::start_on(backend);
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let plain = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    assert_eq!(
        plain.request("GET", "/readyz", &[], None).unwrap().status,
        200
    );
    let m = plain.request("GET", "/metrics", &[], None).unwrap();
    let text = String::from_utf8(m.body).unwrap();
    assert!(
        text.contains("traek_http_requests_total{endpoint=\"RegisterDscAgent\",status=\"204\"} 1"),
        "{text}"
    );
    assert!(text.contains("traek_agents 1"), "{text}");
    assert!(
        text.contains("traek_http_request_duration_seconds_bucket{endpoint=\"RegisterDscAgent\"")
    );
    // The storage gauges are counted at most every 30 s, not on every scrape.
    s.client(new_agent())
        .register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    let m = plain.request("GET", "/metrics", &[], None).unwrap();
    let text = String::from_utf8(m.body).unwrap();
    assert!(text.contains("traek_agents 1"), "{text}");
}

fn sigterm_stops_the_server_cleanly_and_data_survives_restart(backend: Backend) {
    let mut s = Server::start_on(backend);
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    c.get_dsc_action(&action(&[(None, "")])).unwrap();
    // SAFETY: sending SIGTERM to our own child process.
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGTERM);
    }
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let s2 = s.restart(&[]);
    let (_, node) = s2.admin("GET", &format!("/api/v1/nodes/{}", c.agent_id), None);
    assert_eq!(node["registeredNames"], json!(["Web"]));
    assert!(
        node["lastSeen"].is_number(),
        "last-seen was flushed on shutdown: {node}"
    );
}

fn the_keys_file_is_mirrored_and_hand_edits_apply_on_reload(backend: Backend) {
    let s = Server::start_on(backend);
    let file = s.data.join("RegistrationKeys.txt");
    let c = s.client(new_agent());
    let req = registration(Rmt::ConfigurationRepository, Some(&["Web"]));
    // A key added by hand works after a reload (SIGHUP does the same).
    std::fs::write(&file, format!("{KEY}\nhand-added\n")).unwrap();
    assert_eq!(
        c.register("hand-added", &req).unwrap().status,
        401,
        "not before the reload"
    );
    let (st, v) = s.admin("POST", "/api/v1/keys/reload", None);
    assert_eq!((st, v["keys"].as_u64()), (200, Some(2)));
    assert_eq!(c.register("hand-added", &req).unwrap().status, 204);
    // A line deleted by hand revokes the key.
    std::fs::write(&file, format!("# only the first\n{KEY}\n")).unwrap();
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGHUP);
    }
    let mut revoked = false;
    for _ in 0..50 {
        if c.register("hand-added", &req).unwrap().status == 401 {
            revoked = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(revoked, "SIGHUP should revoke a key removed from the file");
    // Keys added through the API are written to the file.
    let (st, _) = s.admin("POST", "/api/v1/keys", Some(br#"{"key":"api-key"}"#));
    assert_eq!(st, 201);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .any(|l| l == "api-key")
    );
}

fn sixty_four_concurrent_clients_on_every_endpoint_all_succeed(backend: Backend) {
    let s = Server::start_on(backend);
    let mof = utf16_mof("instance of Web {};");
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/Web", Some(&mof)).0,
        200
    );
    let zip = tiny_zip("xWeb.psd1", b"@{}");
    assert_eq!(
        s.admin("PUT", "/api/v1/modules/xWeb/1.0", Some(&zip)).0,
        200
    );
    let outcomes: Vec<Result<u16, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..64)
            .map(|_| {
                scope.spawn(|| {
                    let c = s.client(new_agent());
                    let mut seen = Vec::new();
                    let status = |what: &str, r: Result<Reply, ClientError>| {
                        r.map(|r| r.status).map_err(|e| format!("{what}: {e}"))
                    };
                    for round in 0..5 {
                        // Each node signs its own body (a real LCM's holds its certificate),
                        // so no two registrations share a signature, which the server refuses
                        // as a replay.
                        let mut reg = registration(Rmt::ConfigurationRepository, Some(&["Web"]));
                        reg.agent_information.node_name = format!("{}-{round}", c.agent_id);
                        seen.push(status("register", c.register(KEY, &reg)));
                        let calls = [
                            (
                                "POST",
                                "GetDscAction",
                                Some(serde_json::to_vec(&action(&[(None, "")])).unwrap()),
                            ),
                            (
                                "GET",
                                "Configurations(ConfigurationName='Web')/ConfigurationContent",
                                None,
                            ),
                            (
                                "POST",
                                "SendReport",
                                Some(report(Uuid::new_v4(), json!({"Status": "Success"}))),
                            ),
                            ("GET", "Reports", None),
                        ];
                        for (method, suffix, body) in calls {
                            let path = format!("/Nodes(AgentId='{}')/{suffix}", c.agent_id);
                            let r = c.request(method, &path, &[], body.as_deref());
                            seen.push(status(suffix, r));
                        }
                        let module = c.get_module("xWeb", "1.0").map(|_| 200);
                        seen.push(module.map_err(|e| format!("module: {e}")));
                    }
                    seen
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let bad: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(200 | 204) => None,
            Ok(st) => Some(format!("status {st}")),
            Err(e) => Some(e.clone()),
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} requests failed: {bad:?}\nserver log:\n{}",
        bad.len(),
        outcomes.len(),
        s.log.lock().unwrap()
    );
}

fn retention_keeps_a_nodes_newest_reports_and_its_status(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let s = Server::start_with(&data, backend.provision(), &["--max-reports-per-node", "5"]);
    let c = s.client(new_agent());
    c.register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    let jobs: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    for (i, job) in jobs.iter().enumerate() {
        let status = if i == 19 { "Failure" } else { "Success" };
        assert_eq!(
            c.send_report(&report(*job, json!({"Status": status})))
                .unwrap()
                .status,
            200
        );
    }
    let (st, v) = s.admin("POST", "/api/v1/maintenance/prune", None);
    assert_eq!((st, v["deleted"].as_u64()), (200, Some(15)));
    let (_, page) = s.admin(
        "GET",
        &format!("/api/v1/reports?agent={}", c.agent_id),
        None,
    );
    let kept: Vec<String> = page["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["jobId"].as_str().unwrap().to_string())
        .collect();
    let newest: Vec<String> = jobs[15..].iter().map(|j| j.to_string()).collect();
    assert_eq!(kept, newest);
    let (_, node) = s.admin("GET", &format!("/api/v1/nodes/{}", c.agent_id), None);
    assert_eq!(node["lastReportStatus"], "Failure");
}

fn the_summary_node_list_and_csv_show_compliance(backend: Backend) {
    let s = Server::start_on(backend);
    let (good, bad, idle) = (
        s.client(new_agent()),
        s.client(new_agent()),
        s.client(new_agent()),
    );
    for c in [&good, &bad, &idle] {
        c.register(
            KEY,
            &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
        )
        .unwrap();
    }
    let data = |ok: bool| {
        let key = if ok {
            "ResourcesInDesiredState"
        } else {
            "ResourcesNotInDesiredState"
        };
        json!({key: [{"ResourceId": "[File]motd", "ModuleName": "PSDesiredStateConfiguration", "InDesiredState": ok}]}).to_string()
    };
    let final_report = |ok: bool| {
        report(
            Uuid::new_v4(),
            json!({"Status": "Success", "StatusData": [data(ok)]}),
        )
    };
    assert_eq!(good.send_report(&final_report(true)).unwrap().status, 200);
    assert_eq!(bad.send_report(&final_report(false)).unwrap().status, 200);
    let (st, v) = s.admin("GET", "/api/v1/summary", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["statuses"],
        json!({"compliant": 1, "non-compliant": 1, "failed": 0, "pending": 1, "stale": 0})
    );
    assert_eq!(
        v["failingResources"][0],
        json!({"name": "[File]motd", "nodes": 1})
    );
    assert_eq!(v["configurations"][0], json!({"name": "Web", "nodes": 3}));
    let (_, v) = s.admin("GET", "/api/v1/nodes?status=non-compliant", None);
    let listed: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["agentId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [bad.agent_id.to_string()]);
    assert_eq!(v["nodes"][0]["status"], "non-compliant");
    let (st, _) = s.admin("GET", "/api/v1/nodes?status=bogus", None);
    assert_eq!(st, 400);
    let (_, node) = s.admin("GET", &format!("/api/v1/nodes/{}", bad.agent_id), None);
    assert_eq!(
        node["resources"],
        json!([{"resourceId": "[File]motd", "module": "PSDesiredStateConfiguration", "inDesiredState": false}])
    );
    let plain = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let auth = format!("Bearer {TOKEN}");
    let csv = plain
        .request(
            "GET",
            "/api/v1/nodes",
            &[("Authorization", &auth), ("Accept", "text/csv")],
            None,
        )
        .unwrap();
    let text = String::from_utf8(csv.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "agentId,nodeName,status,lcmVersion,ipAddresses,configurations,lastSeen,lastRunTime"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&good.agent_id.to_string()) && l.contains(",compliant,")),
        "{text}"
    );
}

#[test]
fn the_admin_api_keeps_to_its_openapi_document() {
    let s = Server::start();
    let c = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let auth = format!("Bearer {TOKEN}");
    let call = |method: &str, path: &str, body: Option<&[u8]>| {
        c.request(method, path, &[("Authorization", &auth)], body)
            .unwrap()
    };
    // A documented path with an undocumented method: 405 naming the methods it has.
    let r = call("PATCH", "/api/v1/keys", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, POST"));
    // A literal segment is not taken for a parameter.
    assert_eq!(
        call("GET", "/api/v1/keys/reload", None).header("Allow"),
        Some("POST")
    );
    assert_eq!(call("GET", "/api/v1/no-such-thing", None).status, 404);
    // POST /keys with an object without "key" generates one, as an empty body does.
    let r = call("POST", "/api/v1/keys", Some(b"{}"));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        call("POST", "/api/v1/keys", Some(br#"{"key": "a\u0001b"}"#)).status,
        400,
        "a key with a control character"
    );
    for body in [&b"[]"[..], br#"{"key": null}"#, br#"{"key": 7}"#, br#""k""#] {
        let r = call("POST", "/api/v1/keys", Some(body));
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    // Free-text filters and lists are bounded.
    let long = "x".repeat(257);
    for path in [
        format!("/api/v1/audit?user={long}"),
        format!("/api/v1/nodes?q={long}"),
        format!("/api/v1/reports?status={long}"),
        "/api/v1/nodes?tag=a,b".to_string(),
        "/api/v1/nodes?configuration=..".to_string(),
    ] {
        assert_eq!(call("GET", &path, None).status, 400, "{path}");
    }
    let many: Vec<String> = (0..257).map(|i| format!("c{i}")).collect();
    let body = serde_json::to_vec(&many).unwrap();
    assert_eq!(
        call("PUT", "/api/v1/tags/web/configurations", Some(&body)).status,
        400
    );
    // Names count characters, not bytes: 255 of them are fine in any script.
    let name = "é".repeat(255);
    let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let path = format!("/api/v1/configurations/{encoded}");
    assert_eq!(call("PUT", &path, Some(b"mof")).status, 200);
    let path = format!("/api/v1/configurations/{encoded}%C3%A9");
    assert_eq!(call("PUT", &path, Some(b"mof")).status, 400);
    // The built-in admin token owns no tokens: refused as forbidden, not as malformed.
    let r = call("POST", "/api/v1/tokens", Some(br#"{"name": "ci"}"#));
    assert_eq!(r.status, 403);
}

/// Resident memory of a process, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn a_large_configuration_is_sent_without_holding_it_in_memory(backend: Backend) {
    use std::io::{Read, Write};
    const SIZE: usize = 96 << 20;
    let s = Server::start_on(backend);
    let big: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/Big", Some(&big)).0,
        200
    );
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Big"])),
    )
    .unwrap();
    let before = resident_bytes(s.child.id());
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(
        conn,
        "GET /PSDSCPullServer.svc/Nodes(AgentId='{}')/Configurations(ConfigurationName='Big')/ConfigurationContent HTTP/1.1\r\nHost: x\r\nProtocolVersion: 2.0\r\nConnection: close\r\n\r\n",
        c.agent_id
    )
    .unwrap();
    // Read the head and a little of the body, then stall like a slow node.
    let mut first = vec![0u8; 64 * 1024];
    let n = conn.read(&mut first).unwrap();
    let head = String::from_utf8_lossy(&first[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {SIZE}")),
        "{head}"
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    let during = resident_bytes(s.child.id());
    assert!(
        during.saturating_sub(before) < 32 << 20,
        "serving a {} MiB configuration grew the server by {} MiB",
        SIZE >> 20,
        during.saturating_sub(before) >> 20
    );
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    let mut all = first[..n].to_vec();
    all.extend_from_slice(&rest);
    let start = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - start, SIZE, "the whole configuration arrives");
    assert!(all[start..] == big[..], "byte for byte");
}

/// Applies retention now; the versions of `Web` it kept, newest first.
fn pruned_versions(s: &Server) -> Vec<i64> {
    assert_eq!(s.admin("POST", "/api/v1/maintenance/prune", None).0, 200);
    let (_, v) = s.admin("GET", "/api/v1/configurations/Web/versions", None);
    v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect()
}

/// Every check above, once per storage backend.
fn every_publish_is_a_version_and_an_old_one_can_be_restored(backend: Backend) {
    let s = Server::start_on(backend);
    let mofs: Vec<Vec<u8>> = (1..=3)
        .map(|i| utf16_mof(&format!("instance of MSFT_Version{i} {{}};")))
        .collect();
    for (i, mof) in mofs.iter().enumerate() {
        let path = format!("/api/v1/configurations/Web?message=change%20{}", i + 1);
        let (st, _) = s.admin("PUT", &path, Some(mof));
        assert_eq!(st, 200);
    }
    // The same bytes again change nothing: no new version.
    let (st, _) = s.admin("PUT", "/api/v1/configurations/Web", Some(&mofs[2]));
    assert_eq!(st, 200);
    let (st, v) = s.admin("GET", "/api/v1/configurations/Web/versions", None);
    assert_eq!(st, 200, "{v}");
    let versions = v["versions"].as_array().unwrap();
    let numbers: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1], "newest first");
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[1]["current"], false);
    assert_eq!(versions[2]["message"], "change 1");
    assert_eq!(versions[0]["origin"], "api");
    assert_eq!(versions[0]["actor"], "admin-token");
    let first = versions[2]["checksum"].as_str().unwrap().to_string();

    // Rolling back to version 1: its bytes are served again, as version 4, and the old
    // versions' bytes were kept although newer content replaced them.
    let (st, meta) = s.admin(
        "POST",
        "/api/v1/configurations/Web/versions/1/restore",
        None,
    );
    assert_eq!(st, 200, "{meta}");
    assert_eq!(meta["checksum"], first);
    let c = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let auth = format!("Bearer {TOKEN}");
    let served = c
        .request(
            "GET",
            "/api/v1/configurations/Web",
            &[("Authorization", &auth)],
            None,
        )
        .unwrap();
    assert_eq!(served.body, mofs[0]);
    let (_, v) = s.admin("GET", "/api/v1/configurations/Web/versions", None);
    assert_eq!(v["versions"][0]["version"], 4);
    assert_eq!(v["versions"][0]["origin"], "restore of version 1");
    assert_eq!(v["versions"][0]["current"], true);
    let (st, _) = s.admin(
        "POST",
        "/api/v1/configurations/Web/versions/9/restore",
        None,
    );
    assert_eq!(st, 404);
    let (st, _) = s.admin(
        "POST",
        "/api/v1/configurations/Web/versions/x/restore",
        None,
    );
    assert_eq!(st, 400);
    let (_, audit) = s.admin("GET", "/api/v1/audit?action=content.restore", None);
    let restores: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        restores.contains(&("configuration Web version 1".into(), "ok".into())),
        "{restores:?}"
    );
    assert_eq!(
        restores.len(),
        3,
        "refused restores are audited too: {restores:?}"
    );

    // Retention keeps the newest 20, the current one and what some node runs (version 4,
    // downloaded now); pruning collects the rest's bytes.
    let node = s.client(new_agent());
    node.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    assert_eq!(node.get_configuration("Web").unwrap().bytes, mofs[0]);
    for i in 0..25 {
        let mof = utf16_mof(&format!("instance of MSFT_Many{i} {{}};"));
        s.admin("PUT", "/api/v1/configurations/Web", Some(&mof));
    }
    let kept = pruned_versions(&s);
    // Version 1 has version 4's bytes, so the node runs both.
    let mut expected: Vec<i64> = (10..=29).rev().collect();
    expected.extend([4, 1]);
    assert_eq!(kept, expected);
    let (st, _) = s.admin(
        "POST",
        "/api/v1/configurations/Web/versions/4/restore",
        None,
    );
    assert_eq!(st, 200, "what a node runs is restorable");
    let (st, _) = s.admin(
        "POST",
        "/api/v1/configurations/Web/versions/29/restore",
        None,
    );
    assert_eq!(st, 200, "the newest is restorable");
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite)
            })*
        }
        mod postgres_s3 {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Postgres)
            })*
        }
    };
}

on_every_backend!(
    registration_with_a_valid_key_succeeds_and_bad_credentials_are_refused,
    unknown_json_members_and_wrong_types_are_400,
    unregistered_agents_get_nothing,
    get_dsc_action_answers_each_outcome,
    partial_configurations_are_answered_one_by_one,
    content_is_served_byte_for_byte_with_its_checksum,
    a_large_configuration_is_sent_without_holding_it_in_memory,
    report_server_registration_does_not_erase_configuration_names,
    a_jobs_reports_are_kept_and_merged,
    admin_assignment_takes_precedence_and_unregister_removes_the_node,
    admin_api_needs_the_token_and_manages_content_and_keys,
    hostile_requests_get_4xx_and_the_server_stays_up,
    health_readiness_and_metrics_are_served,
    sigterm_stops_the_server_cleanly_and_data_survives_restart,
    the_keys_file_is_mirrored_and_hand_edits_apply_on_reload,
    sixty_four_concurrent_clients_on_every_endpoint_all_succeed,
    retention_keeps_a_nodes_newest_reports_and_its_status,
    the_summary_node_list_and_csv_show_compliance,
    every_publish_is_a_version_and_an_old_one_can_be_restored,
    an_assignment_is_obeyed_at_once_after_registering,
);

/// An assignment is obeyed by the node's very next request on the same server, even when it
/// lands while the server is still taking in the notification of the node's registration.
fn an_assignment_is_obeyed_at_once_after_registering(backend: Backend) {
    let s = Server::start_on(backend);
    s.admin("PUT", "/api/v1/configurations/Web", Some(b"web"));
    s.admin("PUT", "/api/v1/configurations/Db", Some(b"db"));
    let mut stale = Vec::new();
    for _ in 0..40 {
        let c = s.client(new_agent());
        let reg = registration(Rmt::ConfigurationRepository, Some(&["Web"]));
        assert_eq!(c.register(KEY, &reg).unwrap().status, 204);
        let path = format!("/api/v1/nodes/{}/configurations", c.agent_id);
        assert_eq!(s.admin("PUT", &path, Some(br#"["Db"]"#)).0, 200);
        let a = c.get_dsc_action(&action(&[(None, "")])).unwrap();
        if a.details[0].configuration_name != "Db" {
            stale.push(c.agent_id);
        }
    }
    assert!(
        stale.is_empty(),
        "served the names from before the assignment: {stale:?}"
    );
}

/// The server handles its signals from the moment it says it listens: a SIGHUP then reloads
/// keys (it does not end the server, as by default) and a SIGTERM stops it cleanly.
#[test]
fn signals_sent_as_soon_as_the_server_listens_are_handled() {
    for _ in 0..5 {
        let mut s = Server::start_on(Backend::Sqlite);
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(s.child.id() as i32, libc::SIGHUP);
        }
        assert!(
            s.healthy(),
            "SIGHUP ended the server: {}",
            s.log.lock().unwrap()
        );
        // SAFETY: as above.
        unsafe {
            libc::kill(s.child.id() as i32, libc::SIGTERM);
        }
        let status = s.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(tmp.path().join("server.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args([
            "--data-dir",
            tmp.path().join("data").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "info")
        .stderr(log)
        .spawn()
        .unwrap();
    let path = tmp.path().join("server.log");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&path)
        .unwrap()
        .contains("created an admin token")
    {
        assert!(start.elapsed().as_secs() < 20, "the server logged nothing");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape codes in a log file: {text:?}"
    );
}

/// The metric names a scrape exports: each `# TYPE` family, histograms with their series.
fn exported_metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            names.insert(name.to_string());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// The `traek_*` metric names a PromQL text uses.
fn queried_metric_names(promql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = promql;
    while let Some(at) = rest.find("traek_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn metrics_count_reports_and_nodes_and_the_shipped_dashboard_and_alerts_use_only_them() {
    let s = Server::start();
    let c = s.client(new_agent());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    c.register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    let report_body = report(Uuid::new_v4(), json!({"Status": "Failure"}));
    assert_eq!(c.send_report(&report_body).unwrap().status, 200);
    let plain = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let m = plain.request("GET", "/metrics", &[], None).unwrap();
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(m.body).unwrap();
    for line in [
        "traek_reports_ingested_total 1",
        "traek_nodes{status=\"failed\"} 1",
        "traek_nodes_by_configuration{configuration=\"Web\"} 1",
        "traek_storage_errors_total{kind=\"unavailable\"} 0",
        "traek_http_requests_total{endpoint=\"SendReport\",status=\"200\"} 1",
        "traek_http_request_duration_seconds_count{endpoint=\"SendReport\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let exported = exported_metric_names(&text);
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy.join("grafana/traek-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queries.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    let alerts = std::fs::read_to_string(deploy.join("prometheus/alerts.yaml")).unwrap();
    queries.extend(
        alerts
            .lines()
            .filter(|l| l.contains("traek_") && !l.trim_start().starts_with('#'))
            .map(str::to_string),
    );
    let used: Vec<String> = queries
        .iter()
        .flat_map(|q| queried_metric_names(q))
        .collect();
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(
            exported.contains(name),
            "{name} is queried but not exported; exported: {exported:?}"
        );
    }
}

#[test]
fn a_metrics_token_file_puts_metrics_behind_a_bearer_token() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let token_file = tmp.path().join("metrics-token");
    let token = "metrics-token-0123456789abcdef";
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let s = Server::start_in(
        &data,
        &["--metrics-token-file", token_file.to_str().unwrap()],
    );
    let plain = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let refused = plain.request("GET", "/metrics", &[], None).unwrap();
    assert_eq!(refused.status, 401);
    let wrong = plain
        .request("GET", "/metrics", &[("Authorization", "Bearer nope")], None)
        .unwrap();
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {token}");
    let ok = plain
        .request("GET", "/metrics", &[("Authorization", &bearer)], None)
        .unwrap();
    assert_eq!(ok.status, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("traek_agents"));
    // A short token is refused at start, with what to do.
    std::fs::write(&token_file, "short\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--metrics-token-file", token_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 24 characters"));
}

#[test]
fn keep_versions_sets_how_many_old_versions_retention_keeps() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let s = Server::start_in(&data, &["--keep-versions", "3"]);
    for i in 0..6 {
        let mof = utf16_mof(&format!("instance of MSFT_Kept{i} {{}};"));
        assert_eq!(
            s.admin("PUT", "/api/v1/configurations/Web", Some(&mof)).0,
            200
        );
    }
    assert_eq!(pruned_versions(&s), [6, 5, 4]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args(["--keep-versions", "0", "--data-dir"])
        .arg(tmp.path().join("other"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--keep-versions must be 1 to 10000"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
