// The professional's record of one consultation on the desk: notes and the outcome.
//
// Notes are kept in localStorage at every keystroke and auto-saved with `save_notes`, each new
// text under a revision one higher than the last, so a late save never replaces a newer one.
// Whatever the server has not confirmed with `saved` is sent again when the connection is back
// (a resume, a reload, a restarted server): nothing typed is lost. The outcome goes the same way
// with `set_outcome`. The panel stays after the call for the wrap-up, until "done".

const SAVE_AFTER_MS = 600;
const RETRY_MS = 3000;
const PROTOCOL_VERSION = 1;

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

export class RecordDesk {
  constructor({ signaling, identity, texts, notesUrl, elements }) {
    this.signaling = signaling;
    this.texts = texts;
    this.notesUrl = notesUrl;
    this.el = elements;
    this.prefix = `lawroom.record.${identity}.`;
    this.currentKey = `lawroom.record.${identity}`;
    this.id = null;
    this.entry = null;
    this.saveTimer = null;
    this.outcomeTimer = null;
    this.retryTimer = null;
    // Our message id -> what it carried, to match `saved` and `error` replies.
    this.inFlight = new Map();
    this.failed = false;
    this.bind();
  }

  bind() {
    this.el.notes.addEventListener('input', () => this.onNotesInput());
    this.el.notes.addEventListener('blur', () => this.saveNotes());
    this.el.outcome.addEventListener('change', () => this.onOutcomeInput(0));
    this.el.detail.addEventListener('input', () => this.onOutcomeInput(SAVE_AFTER_MS));
    this.el.done.addEventListener('click', () => this.close());
  }

  // The consultation the desk was showing before a reload, if its record is still open.
  get remembered() {
    return localStorage.getItem(this.currentKey);
  }

  // Show the record of consultation `id`, with what this browser has kept of it.
  async open(id, label) {
    if (this.id === id) {
      this.show();
      return;
    }
    this.saveNotes();
    this.id = id;
    const kept = readJson(this.prefix + id);
    this.entry = kept || {
      label: label || '',
      text: '',
      revision: 0,
      revisionText: '',
      saved: 0,
      outcome: '',
      detail: '',
      outcomeSaved: true,
    };
    if (label && !this.entry.label) this.entry.label = label;
    localStorage.setItem(this.currentKey, id);
    this.store();
    this.show();
    // A browser with no copy (another computer, cleared storage) refills from the server.
    if (!kept) await this.refill();
    this.resend();
  }

  show() {
    const e = this.entry;
    this.el.panel.hidden = false;
    this.el.label.textContent = e.label;
    if (this.el.notes.value !== e.text) this.el.notes.value = e.text;
    this.el.outcome.value = e.outcome;
    this.el.detail.value = e.detail;
    this.markNotes();
    this.markOutcome();
  }

  // The call is over: the record stays open for the wrap-up, with a way to close it.
  setInCall(inCall) {
    this.el.done.hidden = inCall || !this.id;
    this.markDone();
  }

  close() {
    if (!this.id || !this.allSaved()) return;
    localStorage.removeItem(this.prefix + this.id);
    localStorage.removeItem(this.currentKey);
    this.id = null;
    this.entry = null;
    this.el.panel.hidden = true;
    this.el.notes.value = '';
  }

  store() {
    if (this.id) localStorage.setItem(this.prefix + this.id, JSON.stringify(this.entry));
  }

  async refill() {
    const id = this.id;
    try {
      const response = await fetch(this.notesUrl.replace('{id}', encodeURIComponent(id)), {
        cache: 'no-store',
        credentials: 'same-origin',
      });
      if (!response.ok || this.id !== id) return;
      const { revision, text } = await response.json();
      const e = this.entry;
      // Only into an editor nobody has typed in yet.
      if (e.revision === 0 && e.text === '' && revision > 0) {
        Object.assign(e, { text, revision, revisionText: text, saved: revision });
        this.store();
        this.show();
      }
      return revision;
    } catch (err) {
      console.warn('lawroom: notes not refilled', err);
    }
    return undefined;
  }

  // -- notes ------------------------------------------------------------------------------------

  onNotesInput() {
    if (!this.entry) return;
    this.entry.text = this.el.notes.value;
    this.store();
    this.markNotes();
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.saveNotes(), SAVE_AFTER_MS);
  }

  saveNotes() {
    clearTimeout(this.saveTimer);
    const e = this.entry;
    if (!e) return;
    if (e.text !== e.revisionText) {
      // New text, new revision; the same text goes again under the number it was given.
      e.revision += 1;
      e.revisionText = e.text;
      this.store();
    }
    if (e.saved >= e.revision || (e.revision === 0 && e.text === '')) return this.markNotes();
    const msgId = this.signaling.send({
      v: PROTOCOL_VERSION,
      type: 'save_notes',
      consultation_id: this.id,
      revision: e.revision,
      text: e.revisionText,
    });
    this.inFlight.set(msgId, { kind: 'notes', id: this.id, revision: e.revision });
    this.markNotes();
  }

  notesSaved() {
    const e = this.entry;
    return !e || (e.text === e.revisionText && e.saved >= e.revision);
  }

  markNotes() {
    let key = null;
    if (!this.notesSaved()) {
      key = this.signaling.ready ? 'lawyer.notes_saving' : 'lawyer.notes_offline';
      if (this.failed) key = 'lawyer.notes_failed';
    } else if (this.entry && this.entry.revision > 0) {
      key = 'lawyer.notes_saved';
    }
    this.setStatus(this.el.notesStatus, key);
    this.markDone();
  }

  // -- outcome ----------------------------------------------------------------------------------

  onOutcomeInput(delay) {
    const e = this.entry;
    if (!e) return;
    e.outcome = this.el.outcome.value;
    e.detail = this.el.detail.value;
    e.outcomeSaved = false;
    this.store();
    this.markOutcome();
    clearTimeout(this.outcomeTimer);
    this.outcomeTimer = setTimeout(() => this.saveOutcome(), delay);
  }

  saveOutcome() {
    clearTimeout(this.outcomeTimer);
    const e = this.entry;
    if (!e || e.outcomeSaved || !e.outcome) return this.markOutcome();
    const detail = e.detail.trim();
    const msgId = this.signaling.send({
      v: PROTOCOL_VERSION,
      type: 'set_outcome',
      consultation_id: this.id,
      outcome: e.outcome,
      ...(detail ? { detail } : {}),
    });
    this.inFlight.set(msgId, { kind: 'outcome', id: this.id, outcome: e.outcome, detail: e.detail });
    this.markOutcome();
  }

  markOutcome() {
    const e = this.entry;
    let key = null;
    if (e && e.outcome) {
      if (!e.outcomeSaved) key = this.signaling.ready ? 'lawyer.notes_saving' : 'lawyer.notes_offline';
      else key = 'lawyer.notes_saved';
    }
    this.setStatus(this.el.outcomeStatus, key);
    this.markDone();
  }

  // -- replies ----------------------------------------------------------------------------------

  // After a (re)connection: send whatever is not confirmed yet.
  resend() {
    this.failed = false;
    this.inFlight.clear();
    this.saveNotes();
    this.saveOutcome();
  }

  onConnection() {
    this.markNotes();
    this.markOutcome();
  }

  // A `saved` reply or an `error` about one of our messages; true if it was ours.
  onReply(msg) {
    const sent = msg.ref !== undefined ? this.inFlight.get(msg.ref) : undefined;
    if (!sent) return false;
    this.inFlight.delete(msg.ref);
    if (sent.id !== this.id || !this.entry) return true;
    const e = this.entry;
    if (msg.type === 'error') {
      console.warn('lawroom: the record was not saved:', msg.code, msg.message);
      this.failed = true;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.resend(), RETRY_MS);
    } else if (sent.kind === 'notes') {
      if (msg.status === 'saved' || msg.status === 'duplicate') {
        e.saved = Math.max(e.saved, sent.revision);
      } else {
        // The server holds a newer revision than this browser knew of (another window), or
        // this number with other text: continue above the server's latest.
        this.catchUp();
      }
    } else if (sent.kind === 'outcome' && sent.outcome === e.outcome && sent.detail === e.detail) {
      e.outcomeSaved = true;
    }
    this.store();
    this.markNotes();
    this.markOutcome();
    return true;
  }

  async catchUp() {
    const id = this.id;
    const latest = await this.refill();
    if (this.id !== id || latest === undefined) return;
    const e = this.entry;
    e.revision = Math.max(e.revision, latest);
    e.revisionText = null; // the next save takes a fresh number
    this.store();
    this.saveNotes();
  }

  allSaved() {
    const e = this.entry;
    return this.notesSaved() && (!e || e.outcomeSaved);
  }

  markDone() {
    this.el.done.disabled = !this.allSaved();
  }

  setStatus(el, key) {
    el.hidden = !key;
    if (key) this.texts.set(el, key);
    el.classList.toggle('saved', key === 'lawyer.notes_saved');
  }
}
