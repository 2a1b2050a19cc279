package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

func TestRootAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{})
	status, body := rawGet(t, b.srv.URL()+"/", "")
	if status != http.StatusOK || !strings.Contains(string(body), "emulator") {
		t.Fatalf("GET / = %d %s", status, body)
	}
}

// TestErrorClasses drives every error class a user of the client must
// handle through the emulator's knobs.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	to := "+" + userWaID
	text := whatsapp.TextMessage(to, "Votre commande S00042 est confirmée.")
	tests := []struct {
		name  string
		knobs emulator.Knobs
		prep  func(*bundle)
		opts  func(*emulator.Config, *whatsapp.Options)
		msg   whatsapp.Message
		sends int
		code  int
		class whatsapp.Class
	}{
		{name: "WrongToken", opts: func(_ *emulator.Config, o *whatsapp.Options) { o.AccessToken = "EAAwrong" },
			msg: text, code: 190, class: whatsapp.ClassAuth},
		{name: "ExpiredToken", prep: func(b *bundle) { b.srv.ExpireToken() }, msg: text, code: 190, class: whatsapp.ClassAuth},
		{name: "Throughput", knobs: emulator.Knobs{ThroughputCap: 0.001}, msg: text, sends: 2, code: 130429, class: whatsapp.ClassRetryable},
		{name: "PairRateLimit", knobs: emulator.Knobs{PairRateEvery: time.Hour, PairRateBurst: 1}, msg: text, sends: 2,
			code: 131056, class: whatsapp.ClassRetryLaterForRecipient},
		{name: "ReEngagementSync", knobs: emulator.Knobs{SyncFailures: true}, prep: func(b *bundle) { b.srv.CloseWindow(userWaID) },
			msg: text, code: 131047, class: whatsapp.ClassReEngagement},
		{name: "WindowRequiredWithoutInbound", knobs: emulator.Knobs{SyncFailures: true, RequireWindow: true},
			msg: text, code: 131047, class: whatsapp.ClassReEngagement},
		{name: "UndeliverableSync", knobs: emulator.Knobs{SyncFailures: true}, prep: func(b *bundle) { b.srv.FailRecipient(userWaID, 131026) },
			msg: text, code: 131026, class: whatsapp.ClassUndeliverable},
		{name: "NotInAllowListSync", knobs: emulator.Knobs{SyncFailures: true}, prep: func(b *bundle) { b.srv.FailRecipient(userWaID, 131030) },
			msg: text, code: 131030, class: whatsapp.ClassConfig},
		{name: "ServerError", prep: func(b *bundle) { b.srv.Fail5xx(1, 0) }, msg: text, code: 131000, class: whatsapp.ClassRetryable},
		{name: "ServiceUnavailable", prep: func(b *bundle) { b.srv.Fail5xx(1, 133004) }, msg: text, code: 133004, class: whatsapp.ClassRetryable},
		{name: "TemplateUnknown", msg: whatsapp.TemplateMessage(to, "nope", "fr"), code: 132001, class: whatsapp.ClassInvalidRequest},
		{name: "TemplateParamCount", msg: whatsapp.TemplateMessage(to, "hello_world", "en_US", whatsapp.BodyParameters("x")),
			code: 132000, class: whatsapp.ClassInvalidRequest},
		{name: "TemplatePaused", prep: func(b *bundle) {
			b.srv.AddTemplate(whatsapp.TemplateInfo{Name: "promo", Language: "fr", Status: "PAUSED", Category: "MARKETING"})
		}, msg: whatsapp.TemplateMessage(to, "promo", "fr"), code: 132015, class: whatsapp.ClassInvalidRequest},
		{name: "PolicyBlocked", knobs: emulator.Knobs{SyncFailures: true}, prep: func(b *bundle) { b.srv.FailRecipient(userWaID, 368) },
			msg: text, code: 368, class: whatsapp.ClassPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []func(*emulator.Config, *whatsapp.Options)
			if tt.opts != nil {
				opts = append(opts, tt.opts)
			}
			b := setup(t, tt.knobs, opts...)
			if tt.prep != nil {
				tt.prep(b)
			}
			var err error
			for range max(tt.sends, 1) {
				if _, err = b.client.Send(context.Background(), phoneID, tt.msg); err != nil {
					break
				}
			}
			ae, ok := errors.AsType[*whatsapp.APIError](err)
			if !ok || ae.Code != tt.code {
				t.Fatalf("err = %v, want API error %d", err, tt.code)
			}
			if got := whatsapp.Classify(err); got != tt.class {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tt.class)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatalf("error %q contains the access token", err)
			}
		})
	}
}

// TestTemplateAllowedOutsideWindow: templates are the only messages allowed
// outside the 24 h window; an inbound message reopens it.
func TestTemplateAllowedOutsideWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{SyncFailures: true, RequireWindow: true, StopAt: "sent"})
	ctx := context.Background()
	if _, err := b.client.Send(ctx, phoneID, whatsapp.TemplateMessage("+"+userWaID, "hello_world", "en_US")); err != nil {
		t.Fatalf("template outside window: %v", err)
	}
	b.hooks.next(t)
	if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "text", Text: "Merci"}); err != nil {
		t.Fatal(err)
	}
	b.hooks.next(t)
	if _, err := b.client.Send(ctx, phoneID, whatsapp.TextMessage("+"+userWaID, "De rien")); err != nil {
		t.Fatalf("text inside window: %v", err)
	}
}

// TestAsyncFailures: Meta often accepts a message (200 + wamid) and reports
// the failure in a failed status webhook with errors[].
func TestAsyncFailures(t *testing.T) {
	t.Parallel()
	for _, code := range []int{131047, 131026, 131030} {
		t.Run(whatsapp.CodeDescription(code), func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.Knobs{})
			if code == 131047 {
				b.srv.CloseWindow(userWaID)
			} else {
				b.srv.FailRecipient(userWaID, code)
			}
			msg := whatsapp.TextMessage("+"+userWaID, "hello")
			msg.BizOpaqueCallbackData = "row-7"
			res, err := b.client.Send(context.Background(), phoneID, msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			w := b.hooks.next(t)
			assertSameShape(t, "webhooks/status_failed.json", w.raw)
			s := statusesOf(w)[0]
			if s.Status != "failed" || s.ID != res.MessageID || s.BizOpaqueCallbackData != "row-7" ||
				len(s.Errors) != 1 || s.Errors[0].Code != code {
				t.Fatalf("status = %+v", s)
			}
			if got := b.srv.Messages(userWaID)[0]; got.Status != "failed" || got.ErrorCode != code {
				t.Fatalf("conversation message = %+v", got)
			}
		})
	}
}

// TestClientRetriesTransientErrors: 5xx with Meta's body are retried with
// backoff until success; the emulator saw every attempt.
func TestClientRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{StopAt: "sent"}, func(_ *emulator.Config, o *whatsapp.Options) {
		o.Retry = whatsapp.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
	})
	b.srv.Fail5xx(2, 131016)
	if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi")); err != nil {
		t.Fatalf("Send after two 5xx: %v", err)
	}
	var statuses []int
	for _, r := range b.srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if len(statuses) != 3 || statuses[0] != 500 || statuses[1] != 500 || statuses[2] != 200 {
		t.Fatalf("attempts = %v, want [500 500 200]", statuses)
	}

	// Final errors are not retried.
	b.srv.FailRecipient(userWaID, 131026)
	b.srv.SetKnobs(emulator.Knobs{SyncFailures: true, StopAt: "sent"})
	before := len(b.srv.Requests())
	_, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi"))
	if whatsapp.Classify(err) != whatsapp.ClassUndeliverable || len(b.srv.Requests()) != before+1 {
		t.Fatalf("err %v after %d requests, want one undeliverable", err, len(b.srv.Requests())-before)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("OutcomeUnknownAfterWrite", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancel once the emulator has read the request: it was written.
		b := setup(t, emulator.Knobs{Latency: time.Minute}, func(c *emulator.Config, _ *whatsapp.Options) {
			c.OnRequest = func(*http.Request) { cancel() }
		})
		_, err := b.client.Send(ctx, phoneID, whatsapp.TextMessage("+"+userWaID, "hi"))
		if !errors.Is(err, whatsapp.ErrOutcomeUnknown) || whatsapp.Classify(err) != whatsapp.ClassOutcomeUnknown {
			t.Fatalf("err = %v, want outcome unknown", err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want it to wrap context.Canceled", err)
		}
	})
	t.Run("NotSentWhenRefused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		hc := whatsapp.NewHTTPClient()
		t.Cleanup(hc.CloseIdleConnections)
		c, _ := whatsapp.NewClient(whatsapp.Options{BaseURL: "http://" + addr + "/v21.0", AccessToken: testToken,
			HTTPClient: hc, Retry: whatsapp.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
		_, err = c.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi"))
		if !errors.Is(err, whatsapp.ErrNotSent) || errors.Is(err, whatsapp.ErrOutcomeUnknown) || whatsapp.Classify(err) != whatsapp.ClassRetryable {
			t.Fatalf("err = %v, want not sent", err)
		}
	})
}

// TestWebhookDelivery covers signatures, retries on non-2xx, duplicates and
// reordering.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	t.Run("RetriedUntilAcknowledged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{StopAt: "sent", WebhookRetryDelay: time.Millisecond})
		b.hooks.failN.Store(2)
		if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi")); err != nil {
			t.Fatal(err)
		}
		if s := statusesOf(b.hooks.next(t)); s[0].Status != "sent" {
			t.Fatalf("status %+v", s)
		}
		var attempts []int
		for _, d := range b.srv.Webhooks() {
			attempts = append(attempts, d.Attempt, d.HTTPStatus)
		}
		// The third attempt (acknowledged) may not be recorded yet; the
		// failed ones were, before their retries were scheduled.
		if len(attempts) < 4 || attempts[0] != 1 || attempts[1] != 500 || attempts[2] != 2 || attempts[3] != 500 || b.hooks.failN.Load() != 0 {
			t.Fatalf("attempts (attempt, status) = %v", attempts)
		}
	})
	t.Run("GivesUpAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{WebhookRetryDelay: time.Millisecond, WebhookMaxAttempts: 2})
		b.hooks.failN.Store(2) // sent fails twice: dropped; delivered and read follow
		res, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"delivered", "read"} {
			if s := statusesOf(b.hooks.next(t))[0]; s.Status != want || s.ID != res.MessageID {
				t.Fatalf("status %+v, want %s", s, want)
			}
		}
	})
	t.Run("DuplicatesAndReorders", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{DuplicateRate: 1, ReorderRate: 1})
		if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi")); err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		var chain []string
		var ts = map[string]string{}
		for range 6 {
			s := statusesOf(b.hooks.next(t))[0]
			if count[s.Status] == 0 {
				chain = append(chain, s.Status)
			}
			count[s.Status]++
			ts[s.Status] = s.Timestamp
		}
		if count["sent"] != 2 || count["delivered"] != 2 || count["read"] != 2 {
			t.Fatalf("deliveries per status = %v, want 2 each", count)
		}
		if ts["sent"] > ts["delivered"] || ts["delivered"] > ts["read"] {
			t.Fatalf("timestamps out of order: %v", ts)
		}
		if b.hooks.badSig.Load() != 0 {
			t.Fatal("a webhook had a bad signature")
		}
		if got := b.srv.Messages(userWaID)[0].Status; got != "read" {
			t.Fatalf("status after reordered webhooks = %q, want read (never regresses)", got)
		}
	})
	t.Run("SignedWithAppSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{StopAt: "sent"})
		if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "text", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		w := b.hooks.next(t)
		if !strings.HasPrefix(w.signature, "sha256=") || len(w.signature) != 71 ||
			!whatsapp.VerifySignature([]byte(testSecret), w.raw, w.signature) {
			t.Fatalf("signature %q does not verify", w.signature)
		}
		if whatsapp.VerifySignature([]byte("other secret"), w.raw, w.signature) {
			t.Fatal("signature verified with the wrong secret")
		}
	})
}

// TestControlEndpoints drives the emulator over /_emulator/ as a script or
// the sandbox page would.
func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{StopAt: "sent"})
	base := b.srv.URL() + "/_emulator"

	status, body := rawPost(t, base+"/knobs", "", `{"latency":"1ms","throughput_cap":500,"sync_failures":true}`)
	if status != http.StatusOK || b.srv.Knobs().Latency != time.Millisecond || b.srv.Knobs().ThroughputCap != 500 || !b.srv.Knobs().SyncFailures {
		t.Fatalf("POST knobs = %d %s; knobs %+v", status, body, b.srv.Knobs())
	}
	if status, _ := rawPost(t, base+"/knobs", "", `{"latency":"soon"}`); status != http.StatusBadRequest {
		t.Fatalf("bad duration accepted: %d", status)
	}
	if status, _ := rawPost(t, base+"/recipients/"+userWaID+"/fail", "", `{"code":131026}`); status != http.StatusOK {
		t.Fatal(status)
	}
	_, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi"))
	if whatsapp.Classify(err) != whatsapp.ClassUndeliverable {
		t.Fatalf("after HTTP fail knob: %v", err)
	}
	rawPost(t, base+"/recipients/"+userWaID+"/fail", "", `{"code":0}`)
	rawPost(t, base+"/windows/"+userWaID+"/close", "", ``)
	if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi")); whatsapp.Classify(err) != whatsapp.ClassReEngagement {
		t.Fatalf("after HTTP window close: %v", err)
	}

	status, body = rawPost(t, base+"/inbound", "", `{"from":"+221771234567","type":"text","text":"Bonjour"}`)
	if status != http.StatusOK || !strings.Contains(string(body), "wamid.") {
		t.Fatalf("POST inbound = %d %s", status, body)
	}
	if m := b.hooks.next(t).payload.Entry[0].Changes[0].Value.Messages[0]; m.Text.Body != "Bonjour" || m.From != "221771234567" {
		t.Fatalf("inbound webhook message %+v", m)
	}
	status, body = rawGet(t, base+"/messages?wa_id=221771234567", "")
	var msgs []emulator.ConversationMessage
	if err := json.Unmarshal(body, &msgs); status != http.StatusOK || err != nil || len(msgs) != 1 || msgs[0].Direction != "in" {
		t.Fatalf("GET messages = %d %s", status, body)
	}
	status, body = rawGet(t, base+"/requests?path=/messages", "")
	var reqs []emulator.RecordedRequest
	if err := json.Unmarshal(body, &reqs); status != http.StatusOK || err != nil || len(reqs) != 2 {
		t.Fatalf("GET requests = %d %s", status, body)
	}
	if status, _ := rawPost(t, base+"/fail5xx", "", `{"count":1}`); status != http.StatusOK {
		t.Fatal(status)
	}
	if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+221771234567", "hi")); whatsapp.Classify(err) != whatsapp.ClassRetryable {
		t.Fatalf("after fail5xx: %v", err)
	}
	rawPost(t, base+"/token/expire", "", ``)
	if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+221771234567", "hi")); whatsapp.Classify(err) != whatsapp.ClassAuth {
		t.Fatalf("after token expire: %v", err)
	}
	rawPost(t, base+"/token", "", `{"access_token":"`+testToken+`"}`)
	status, _ = rawPost(t, base+"/templates", "", `{"name":"facture","language":"fr","category":"UTILITY","components":[{"type":"BODY","text":"Facture {{1}}"}]}`)
	if status != http.StatusOK {
		t.Fatal(status)
	}
	if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TemplateMessage("+221771234567", "facture", "fr", whatsapp.BodyParameters("INV/2026/0001"))); err != nil {
		t.Fatalf("template added over HTTP: %v", err)
	}
	if status, _ := rawPost(t, base+"/reset", "", ``); status != http.StatusOK || len(b.srv.Requests()) != 0 || len(b.srv.Conversations()) != 0 {
		t.Fatal("reset left state behind")
	}
}

// TestTokenNeverRecordedOrLogged: the token appears in no recorded request,
// error or client log line.
func TestTokenNeverRecordedOrLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	b := setup(t, emulator.Knobs{StopAt: "sent"}, func(_ *emulator.Config, o *whatsapp.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Retry = whatsapp.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}
	})
	b.srv.Fail5xx(5, 0)
	_, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi"))
	if err == nil {
		t.Fatal("want error")
	}
	rawGet(t, b.srv.BaseURL()+"/"+emulator.DefaultWABAID+"/message_templates?access_token="+testToken, "")
	recorded, _ := json.Marshal(b.srv.Requests())
	for what, s := range map[string]string{"error": err.Error(), "logs": logs.String(), "recorded requests": string(recorded)} {
		if strings.Contains(s, testToken) {
			t.Errorf("%s contain the access token: %s", what, s)
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Fatalf("no retry logged: %s", logs.String())
	}
}

func TestMediaRules(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{})
	ctx := context.Background()
	if _, err := b.client.UploadMedia(ctx, phoneID, "x.gif", "image/gif", strings.NewReader("GIF89a")); whatsapp.Classify(err) != whatsapp.ClassInvalidRequest {
		t.Fatalf("gif upload: %v", err)
	}
	big := bytes.Repeat([]byte{0}, 5<<20+1)
	if _, err := b.client.UploadMedia(ctx, phoneID, "big.jpg", "image/jpeg", bytes.NewReader(big)); whatsapp.Classify(err) != whatsapp.ClassInvalidRequest {
		t.Fatalf("6 MB image upload: %v", err)
	}
	id, err := b.client.UploadMedia(ctx, phoneID, "facture.pdf", "application/pdf", strings.NewReader("%PDF-1.4"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := b.client.MediaInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := rawGet(t, info.URL, ""); status == http.StatusOK {
		t.Fatal("download without the token succeeded")
	}
	if status, _ := rawGet(t, strings.Replace(info.URL, "hash=", "hash=0", 1), testToken); status != http.StatusNotFound {
		t.Fatalf("altered URL: %d, want 404", status)
	}
	if _, err := b.client.MediaInfo(ctx, "1234"); whatsapp.Classify(err) != whatsapp.ClassInvalidRequest {
		t.Fatalf("unknown media: %v", err)
	}
	if _, _, err := b.client.DownloadMedia(ctx, "https://evil.example.com/x"); err == nil {
		t.Fatal("token sent to a foreign host")
	}
}

func TestListTemplatesFollowsPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{})
	for i := range 150 {
		b.srv.AddTemplate(whatsapp.TemplateInfo{ID: "9" + strings.Repeat("0", 3) + string(rune('0'+i%10)), Name: "t" + strings.Repeat("x", i), Language: "fr", Status: "APPROVED", Category: "UTILITY"})
	}
	got, err := b.client.ListTemplates(context.Background(), emulator.DefaultWABAID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 151 {
		t.Fatalf("ListTemplates returned %d templates, want 151", len(got))
	}
	if n := len(b.srv.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2 pages", n)
	}
}

// TestSpeaksH2C: the emulator answers HTTP/2 without TLS (prior knowledge), as
// Meta's API answers HTTP/2 over TLS, and HTTP/1.1 still.
func TestSpeaksH2C(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{})
	for _, h2c := range []bool{true, false} {
		var p http.Protocols
		p.SetUnencryptedHTTP2(h2c)
		p.SetHTTP1(!h2c)
		tr := &http.Transport{Protocols: &p}
		resp, err := (&http.Client{Transport: tr}).Get(b.srv.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tr.CloseIdleConnections()
		if want := map[bool]int{true: 2, false: 1}[h2c]; resp.ProtoMajor != want || resp.StatusCode != http.StatusOK {
			t.Errorf("h2c %v: %s %d, want HTTP/%d 200", h2c, resp.Proto, resp.StatusCode, want)
		}
	}
}

// TestTimingHooks: a load test sees each message request's body and each
// webhook's record, with when it was due.
func TestTimingHooks(t *testing.T) {
	t.Parallel()
	bodies := make(chan string, 4)
	hooks := make(chan emulator.WebhookDelivery, 4)
	b := setup(t, emulator.Knobs{StopAt: "sent"}, func(c *emulator.Config, _ *whatsapp.Options) {
		c.OnMessageRequest = func(body []byte) { bodies <- string(body) }
		c.OnWebhook = func(d emulator.WebhookDelivery) { hooks <- d }
	})
	if _, err := b.client.Send(context.Background(), emulator.DefaultPhoneNumberID, whatsapp.TextMessage("+221771234567", "hooked")); err != nil {
		t.Fatal(err)
	}
	if body := <-bodies; !strings.Contains(body, `"hooked"`) {
		t.Errorf("OnMessageRequest body %s", body)
	}
	d := <-hooks
	if d.Kind != "status" || d.Status != whatsapp.StatusSent || d.HTTPStatus != http.StatusOK || d.Due.IsZero() {
		t.Errorf("OnWebhook %+v", d)
	}
}
