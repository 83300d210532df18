// The lawyer's (or mediator's) desk: go on duty, see a request, accept or decline, talk, and keep
// the record (notes, outcome) during and after the call. The page is served only to a signed-in
// professional; its websocket is signed in by the session cookie.

import { Call } from './call.js';
import { build } from './protocol.js';
import { RecordDesk } from './record.js';
import { Signaling, websocketUrl } from './signaling.js';
import {
  MediaUnavailable,
  PageStore,
  Texts,
  byId,
  cameraSize,
  currentView,
  exposeForTests,
  openCamera,
  playStream,
  readConfig,
  serverClock,
  showView,
  stopStream,
  toggleTracks,
  tracksEnabled,
} from './ui.js';

const CAMERA = { width: 1280, height: 720 };
const IN_ROOM = ['joined', 'negotiating', 'connected'];
const NOTICE_SECONDS = 12;

// How long a request has waited, as the request card shows it.
function formatWaited(texts, seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 5) return texts.t('time.just_now');
  if (s < 60) return texts.t('time.seconds', { s });
  if (s < 3600) return texts.t('time.minutes', { m: Math.floor(s / 60), s: String(s % 60).padStart(2, '0') });
  return texts.t('time.hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

class LawyerPage {
  constructor(config) {
    this.config = config;
    this.store = new PageStore(`lawroom.page.lawyer.${config.identity}`);
    this.state = this.store.load();
    this.texts = new Texts(config.catalogue, 'zh');
    this.now = serverClock(config.server_now);
    this.signaling = new Signaling({
      url: websocketUrl(config.ws_path),
      role: config.role,
      identity: config.identity,
      token: null,
      schemaUrl: config.schema_url,
    });
    this.record = new RecordDesk({
      signaling: this.signaling,
      identity: config.identity,
      texts: this.texts,
      notesUrl: config.notes_url,
      elements: {
        panel: byId('record'),
        label: byId('record-for'),
        notes: byId('notes'),
        notesStatus: byId('notes-status'),
        outcome: byId('outcome'),
        detail: byId('outcome-detail'),
        outcomeStatus: byId('outcome-status'),
        done: byId('record-done'),
      },
    });
    this.stream = null;
    this.call = null;
    this.endedIds = new Set();
    this.acceptId = null;
    this.waitedTimer = null;
    this.noticeTimer = null;
    this.inbox = Promise.resolve();
  }

  start() {
    this.bindButtons();
    const inCall = IN_ROOM.includes(this.state.callState) && this.state.consultationId;
    if (inCall) this.showCall();
    else showView('loading');
    // The record this desk had open before a reload (what was typed is in localStorage).
    const remembered = this.record.remembered;
    if (remembered) {
      this.record.open(remembered);
      this.record.setInCall(Boolean(inCall) && this.state.consultationId === remembered);
    }
    const s = this.signaling;
    s.addEventListener('message', (ev) => this.enqueue(() => this.onMessage(ev.detail)));
    s.addEventListener('ready', (ev) => this.enqueue(() => this.onReady(ev.detail)));
    s.addEventListener('status', (ev) => {
      this.showConnection(ev.detail.state);
      this.record.onConnection();
    });
    s.addEventListener('fatal', (ev) => this.onFatal(ev.detail.key));
    s.start();
  }

  onFatal(key) {
    // Refused at sign-in: the session cookie has expired or was signed out elsewhere.
    if (key === 'bad_credentials') {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    this.showError(key);
  }

  recordLabel(offer) {
    if (!offer) return '';
    return this.texts.t('lawyer.record_for', {
      village: offer.village,
      topic: this.texts.t(`topic.${offer.topic}`),
    });
  }

  openRecord(id) {
    const offer = this.state.offer?.consultation_id === id ? this.state.offer : null;
    this.record.open(id, this.recordLabel(offer));
    this.record.setInCall(true);
  }

  enqueue(step) {
    this.inbox = this.inbox.then(step).catch((err) => console.error('lawroom:', err));
  }

  save(changes) {
    Object.assign(this.state, changes);
    this.store.save(this.state);
  }

  bindButtons() {
    byId('go-on-duty').addEventListener('click', () => this.signaling.send(build.setDuty(true)));
    byId('go-off-duty').addEventListener('click', () => this.signaling.send(build.setDuty(false)));
    byId('accept').addEventListener('click', () => this.accept());
    byId('decline').addEventListener('click', () => this.decline());
    byId('hangup').addEventListener('click', () => this.hangUp());
    byId('mute').addEventListener('click', () => {
      toggleTracks(this.stream, 'audio');
      this.markControls();
    });
    byId('camera').addEventListener('click', () => {
      toggleTracks(this.stream, 'video');
      this.markControls();
    });
    byId('fullscreen').addEventListener('click', () => this.toggleFullscreen());
    document.addEventListener('fullscreenchange', () => this.markControls());
    byId('start-over').addEventListener('click', () => {
      this.store.save({});
      location.reload();
    });
  }

  async accept() {
    const offer = this.state.offer;
    if (!offer) return;
    byId('accept').disabled = true;
    if (!(await this.ensureMedia())) return;
    this.acceptId = this.signaling.send(build.accept(offer.consultation_id));
  }

  decline() {
    const offer = this.state.offer;
    if (offer) this.signaling.send(build.decline(offer.consultation_id));
    this.save({ offer: null, consultationId: null, callState: null });
    this.showNotice('withdrawn.declined');
    this.showDuty();
  }

  hangUp() {
    const id = this.state.consultationId;
    if (id) this.signaling.send(build.hangUp(id));
    this.endCall('hang_up');
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else byId('stage').requestFullscreen().catch(() => {});
  }

  markControls() {
    const t = this.texts;
    t.set(byId('mute'), tracksEnabled(this.stream, 'audio') ? 'common.mute' : 'common.unmute');
    t.set(byId('camera'), tracksEnabled(this.stream, 'video') ? 'common.camera_off' : 'common.camera_on');
    t.set(byId('fullscreen'), document.fullscreenElement ? 'lawyer.exit_fullscreen' : 'lawyer.fullscreen');
  }

  // -- what the server says -------------------------------------------------------------------

  async onReady(detail) {
    await this.afterSignIn(detail);
    // Whatever of the record the server has not confirmed goes (again) now.
    this.record.resend();
  }

  async afterSignIn({ resumed, resumedMessage }) {
    if (!resumed) {
      // A new session starts off duty (after a first load, or when the old one had expired).
      this.save({ onDuty: false, offer: null, consultationId: null, callState: null });
      if (currentView() !== 'error') this.showDuty();
      return;
    }
    const { consultation_id: id, call_state: callState } = resumedMessage;
    if (!id || this.endedIds.has(id)) {
      this.save({ offer: null, consultationId: null, callState: null });
      if (currentView() !== 'error') this.showDuty();
      return;
    }
    this.save({ consultationId: id, callState });
    if (callState === 'ringing' && this.state.offer?.consultation_id === id) this.showIncoming();
    else if (IN_ROOM.includes(callState)) {
      this.openRecord(id);
      if (!(await this.ensureMedia())) return;
      this.showCall();
      // This page lost its peer connection with the reload: it offers afresh.
      if (!this.call?.hasPeerConnection) await this.startCall(true);
    } else this.showDuty();
  }

  async onMessage(msg) {
    // Replies about the record come after its call has ended, too.
    if ((msg.type === 'saved' || msg.type === 'error') && this.record.onReply(msg)) return;
    const id = msg.consultation_id;
    if (id && this.endedIds.has(id)) return;
    switch (msg.type) {
      case 'duty_state':
        this.save({ onDuty: msg.on_duty });
        if (['loading', 'on_duty', 'off_duty'].includes(currentView())) this.showDuty();
        else this.markDuty();
        return;
      case 'consultation_offer':
        this.save({ offer: msg, consultationId: id, callState: 'ringing' });
        this.showIncoming();
        return;
      case 'offer_withdrawn':
        if (this.state.offer?.consultation_id === id) {
          this.save({ offer: null, consultationId: null, callState: null });
          this.showNotice(`withdrawn.${msg.reason}`);
          this.showDuty();
        }
        return;
      case 'room_joined':
        this.save({ consultationId: id, callState: 'joined', peerName: msg.peer_name });
        this.openRecord(id);
        if (!(await this.ensureMedia())) return;
        this.showCall();
        await this.startCall(msg.initiator);
        return;
      case 'call_state':
        if (msg.state !== 'ended') this.save({ callState: msg.state });
        return;
      case 'sdp':
        if (!this.call && (await this.ensureMedia())) {
          this.showCall();
          await this.startCall(false);
        }
        await this.call?.onSdp(msg);
        return;
      case 'ice_candidate':
        await this.call?.onCandidate(msg);
        return;
      case 'peer_disconnected':
        this.showCallStatus('common.peer_reconnecting');
        return;
      case 'peer_resumed':
        this.showCallStatus(null);
        return;
      case 'consultation_ended':
        this.endCall(msg.reason);
        return;
      case 'error':
        console.warn('lawroom: the server refused a message:', msg.code, msg.message);
        if (msg.ref !== undefined && msg.ref === this.acceptId) {
          this.save({ offer: null, consultationId: null, callState: null });
          this.showNotice(`error.${msg.code}`);
          this.showDuty();
        }
        return;
      default:
        return;
    }
  }

  // -- the call -------------------------------------------------------------------------------

  async ensureMedia() {
    if (this.stream) return true;
    try {
      this.stream = await openCamera(cameraSize(CAMERA));
    } catch (err) {
      this.showError(err instanceof MediaUnavailable ? err.key : 'media');
      return false;
    }
    byId('self').srcObject = this.stream;
    return true;
  }

  async startCall(offer) {
    this.closeCall();
    const call = new Call({
      signaling: this.signaling,
      consultationId: this.state.consultationId,
      iceServers: this.signaling.iceServers,
      stream: this.stream,
      polite: true,
    });
    this.call = call;
    call.addEventListener('remote-stream', (ev) => playStream(byId('remote'), ev.detail, byId('sound')));
    await call.start(offer);
  }

  closeCall() {
    if (this.call) this.call.close();
    this.call = null;
    byId('remote').srcObject = null;
  }

  endCall(reason) {
    const id = this.state.consultationId;
    if (id) this.endedIds.add(id);
    this.record.setInCall(false);
    this.closeCall();
    stopStream(this.stream);
    this.stream = null;
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    this.save({ consultationId: null, callState: null, offer: null, peerName: null });
    this.showNotice('lawyer.call_ended', { reason: this.texts.t(`end.${reason}`) });
    this.showDuty();
  }

  // -- views ----------------------------------------------------------------------------------

  markDuty() {
    const badge = byId('duty-badge');
    badge.hidden = false;
    badge.classList.toggle('on', Boolean(this.state.onDuty));
    this.texts.set(badge, this.state.onDuty ? 'lawyer.badge_on' : 'lawyer.badge_off');
  }

  showDuty() {
    this.stopWaitedTimer();
    byId('accept').disabled = false;
    this.markDuty();
    showView(this.state.onDuty ? 'on_duty' : 'off_duty');
  }

  showIncoming() {
    const offer = this.state.offer;
    const t = this.texts;
    byId('req-topic').textContent = t.t(`topic.${offer.topic}`);
    byId('req-kind').textContent = t.t(`kind.${offer.kind}`);
    byId('req-language').textContent = t.t(`lang.${offer.language}`);
    byId('req-village').textContent = offer.village;
    const requestedAt = Date.parse(offer.requested_at) / 1000;
    const tick = () => {
      byId('req-waited').textContent = formatWaited(t, this.now() - requestedAt);
    };
    tick();
    // A callback: accepting rings the terminal back; the villager may have left a phone too.
    const callback = byId('req-callback');
    callback.hidden = !offer.callback;
    if (offer.callback) {
      if (offer.phone) t.set(callback, 'lawyer.callback_phone', { phone: offer.phone });
      else t.set(callback, 'lawyer.callback');
    }
    this.stopWaitedTimer();
    this.waitedTimer = setInterval(tick, 1000);
    byId('accept').disabled = false;
    this.markDuty();
    showView('incoming');
  }

  stopWaitedTimer() {
    if (this.waitedTimer !== null) clearInterval(this.waitedTimer);
    this.waitedTimer = null;
  }

  showCall() {
    this.stopWaitedTimer();
    const name = this.state.peerName || this.state.offer?.village || '';
    this.texts.set(byId('peer-name'), 'common.in_call_with', { name });
    if (!byId('remote').srcObject) this.showCallStatus('common.video_connecting');
    byId('remote').onplaying = () => this.showCallStatus(null);
    this.markControls();
    showView('call');
  }

  showCallStatus(key) {
    const el = byId('call-status');
    el.hidden = !key;
    if (key) this.texts.set(el, key);
  }

  showNotice(key, params = {}) {
    const el = byId('notice');
    this.texts.set(el, key, params);
    el.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      el.hidden = true;
    }, NOTICE_SECONDS * 1000);
  }

  showConnection(state) {
    const el = byId('status');
    el.hidden = state !== 'reconnecting';
    if (state === 'reconnecting') this.texts.set(el, 'common.reconnecting');
  }

  showError(key) {
    const known = this.texts.catalogue.zh[`error.${key}`] ? key : 'internal_error';
    this.texts.set(byId('error-text'), `error.${known}`);
    byId('status').hidden = true;
    this.stopWaitedTimer();
    this.closeCall();
    stopStream(this.stream);
    this.stream = null;
    showView('error');
  }
}

const page = new LawyerPage(readConfig());
exposeForTests(page);
page.start();
