package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp"
	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/whatsapp/emulator"
)

// nextEvent waits for the feed's next event (the timeout only guards a hung test).
func nextEvent(t *testing.T, f *emulator.Feed) emulator.Event {
	t.Helper()
	select {
	case ev, ok := <-f.Events():
		if !ok {
			t.Fatalf("feed ended: %v", f.Err())
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no event")
		return emulator.Event{}
	}
}

func TestFeed(t *testing.T) {
	t.Parallel()
	t.Run("MessageThenItsStatusesThenTheCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{})
		feed := b.srv.Subscribe()
		defer feed.Close()
		res, err := b.client.Send(context.Background(), phoneID, whatsapp.ButtonsMessage("+"+userWaID, "Votre devis",
			whatsapp.ButtonReply{ID: "btn_validate_order_7", Title: "Valider"}))
		if err != nil {
			t.Fatal(err)
		}
		var seq uint64
		for _, want := range []struct {
			typ    emulator.EventType
			status string
		}{
			{emulator.EventMessageAccepted, "accepted"},
			{emulator.EventStatusSent, "sent"},
			{emulator.EventStatusSent, "delivered"},
			{emulator.EventStatusSent, "read"},
		} {
			ev := nextEvent(t, feed)
			if ev.Type != want.typ || ev.Message.ID != res.MessageID || ev.Message.Status != want.status || ev.Seq <= seq {
				t.Fatalf("event %s %q seq %d (after %d), want %s %q of %s", ev.Type, ev.Message.Status, ev.Seq, seq, want.typ, want.status, res.MessageID)
			}
			seq = ev.Seq
		}
		id, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "button_reply", ID: "btn_validate_order_7"})
		if err != nil {
			t.Fatal(err)
		}
		ev := nextEvent(t, feed)
		if ev.Type != emulator.EventCustomerMessage || ev.Message.ID != id || ev.Message.Direction != "in" {
			t.Fatalf("event %+v, want the customer's click %s", ev, id)
		}
		b.srv.Reset()
		if ev := nextEvent(t, feed); ev.Type != emulator.EventReset {
			t.Fatalf("event %s after Reset", ev.Type)
		}
	})
	t.Run("ReorderedStatusesNeverGoBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{ReorderRate: 1})
		feed := b.srv.Subscribe()
		defer feed.Close()
		if _, err := b.client.Send(context.Background(), phoneID, whatsapp.TextMessage("+"+userWaID, "hi")); err != nil {
			t.Fatal(err)
		}
		if ev := nextEvent(t, feed); ev.Type != emulator.EventMessageAccepted {
			t.Fatalf("first event %s", ev.Type)
		}
		// read arrives first; delivered and sent, later, change nothing.
		if ev := nextEvent(t, feed); ev.Message.Status != "read" {
			t.Fatalf("status %q, want read first", ev.Message.Status)
		}
		for range 3 {
			b.hooks.next(t)
		}
		if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "text", Text: "ok"}); err != nil {
			t.Fatal(err)
		}
		if ev := nextEvent(t, feed); ev.Type != emulator.EventCustomerMessage {
			t.Fatalf("event %s %q after read, want nothing before the customer's message", ev.Type, ev.Message.Status)
		}
	})
	t.Run("SlowReaderIsCutOffNotWaitedFor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{})
		feed := b.srv.Subscribe()
		for i := range emulator.FeedBuffer + 1 {
			if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "text", Text: "message"}); err != nil {
				t.Fatal(i, err)
			}
		}
		n := 0
		for range feed.Events() {
			n++
		}
		if n != emulator.FeedBuffer || !errors.Is(feed.Err(), emulator.ErrFeedOverflow) {
			t.Fatalf("read %d events then %v, want %d then ErrFeedOverflow", n, feed.Err(), emulator.FeedBuffer)
		}
		feed.Close()
	})
	t.Run("ClosedFeedEnds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Knobs{})
		feed := b.srv.Subscribe()
		feed.Close()
		feed.Close()
		if _, ok := <-feed.Events(); ok || feed.Err() != nil {
			t.Fatalf("closed feed delivered an event or has error %v", feed.Err())
		}
		if _, err := b.srv.SendInbound(emulator.Inbound{From: userWaID, Type: "text", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMediaReturnsUploadedBytes(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Knobs{})
	pdf := []byte("%PDF-1.4 facture")
	id, err := b.client.UploadMedia(context.Background(), phoneID, "facture.pdf", "application/pdf", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := b.srv.Media(id)
	if !ok || string(got.Data) != string(pdf) || got.MimeType != "application/pdf" || got.PhoneNumberID != phoneID {
		t.Fatalf("Media(%s) = %+v, %v", id, got, ok)
	}
	if _, ok := b.srv.Media("1234"); ok {
		t.Fatal("unknown media found")
	}
}
