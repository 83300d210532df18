// One call's RTCPeerConnection: SDP through `sdp` messages, trickled ICE through
// `ice_candidate` messages, bitrate hints on the SDP it hands over, and the degradation
// preference of its video sender.
//
// The village terminal makes the first offer. After a reload the page that lost its peer
// connection offers afresh; the other side sees an offer arrive for a connection that was
// already negotiated and starts a new one (as the Python Participant does).

import { build } from './protocol.js';

// Bitrate hints in kbit/s, as room/sdp.py writes them for the Python clients: against aiortc's
// REMB-only feedback Chromium otherwise estimates low and sends a 4K camera at 180p-720p.
export const BITRATE_HINTS = { min: 1000, start: 8000, max: 25000 };
const VIDEO_CODECS = ['VP8', 'VP9', 'H264', 'AV1'];

// The SDP with bitrate hints on every video codec's fmtp line (added where there is none).
export function addBitrateHints(sdp, hints = BITRATE_HINTS) {
  const lines = sdp.split('\r\n');
  const payloads = new Set();
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) ([A-Za-z0-9-]+)\//.exec(line);
    if (m && VIDEO_CODECS.includes(m[2].toUpperCase())) payloads.add(m[1]);
  }
  const fmtp =
    `x-google-min-bitrate=${hints.min};x-google-start-bitrate=${hints.start};` +
    `x-google-max-bitrate=${hints.max}`;
  const withFmtp = new Set();
  const edited = lines.map((line) => {
    if (!line.startsWith('a=fmtp:')) return line;
    const rest = line.slice('a=fmtp:'.length);
    const space = rest.indexOf(' ');
    const pt = space < 0 ? rest : rest.slice(0, space);
    if (!payloads.has(pt)) return line;
    withFmtp.add(pt);
    const params = space < 0 ? '' : rest.slice(space + 1);
    const kept = params.split(';').filter((p) => p && !p.startsWith('x-google-')).join(';');
    return `a=fmtp:${pt} ${kept ? `${kept};` : ''}${fmtp}`;
  });
  const result = [];
  for (const line of edited) {
    result.push(line);
    const m = /^a=rtpmap:(\d+) /.exec(line);
    if (m && payloads.has(m[1]) && !withFmtp.has(m[1])) result.push(`a=fmtp:${m[1]} ${fmtp}`);
  }
  return result.join('\r\n');
}

export class Call extends EventTarget {
  // polite: on colliding offers this side gives way (the professional; the terminal offers).
  constructor({ signaling, consultationId, iceServers, stream, polite, documentMode = false }) {
    super();
    this.signaling = signaling;
    this.consultationId = consultationId;
    this.iceServers = iceServers || [];
    this.stream = stream;
    this.polite = polite;
    this.documentMode = documentMode;
    this.pc = null;
    // How many peer connections this call has had (a new one after the other side restarts).
    this.generation = 0;
    this.remoteStream = null;
    this.closed = false;
    // Everything that touches the peer connection runs in order, one step at a time.
    this.queue = Promise.resolve();
  }

  // A fresh peer connection; with `offer`, this side makes the offer.
  start(offer) {
    return this.run(async () => {
      this.newPeerConnection();
      if (offer) await this.makeOffer();
    });
  }

  get hasPeerConnection() {
    return this.pc !== null && !this.closed;
  }

  onSdp(msg) {
    return this.run(() => (msg.sdp_type === 'offer' ? this.takeOffer(msg.sdp) : this.takeAnswer(msg.sdp)));
  }

  onCandidate(msg) {
    return this.run(async () => {
      if (!this.pc || !msg.candidate) return; // browsers need no end-of-candidates marker
      const candidate = {
        candidate: msg.candidate,
        sdpMid: msg.sdp_mid ?? null,
        sdpMLineIndex: msg.sdp_mline_index ?? null,
      };
      if (!this.pc.remoteDescription) this.remoteCandidates.push(candidate);
      else await this.addCandidate(candidate);
    });
  }

  async setDocumentMode(on) {
    this.documentMode = on;
    await this.run(() => this.applySenderPreferences());
  }

  close() {
    this.closed = true;
    if (this.pc) this.pc.close();
  }

  run(step) {
    const next = this.queue.then(() => (this.closed ? undefined : step()));
    this.queue = next.catch((err) => console.warn('lawroom: call step failed', err));
    return next;
  }

  newPeerConnection() {
    if (this.pc) this.pc.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.generation += 1;
    this.described = false; // our SDP has not gone out: hold our candidates until it has
    this.localCandidates = [];
    this.remoteCandidates = [];
    for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
    pc.addEventListener('icecandidate', (ev) => pc === this.pc && this.onLocalCandidate(ev.candidate));
    const remote = new MediaStream();
    this.remoteStream = remote;
    pc.addEventListener('track', (ev) => {
      if (pc !== this.pc) return;
      remote.addTrack(ev.track);
      this.dispatchEvent(new CustomEvent('remote-stream', { detail: remote }));
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this.pc) this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
  }

  async makeOffer() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.sendDescription('offer', offer.sdp);
    await this.applySenderPreferences();
  }

  async takeOffer(sdp) {
    const pc = this.pc;
    if (!pc || (pc.remoteDescription && pc.signalingState === 'stable')) {
      // The other side started over (a reload): its old connection is gone, and so is ours.
      this.newPeerConnection();
    } else if (pc.signalingState === 'have-local-offer') {
      if (!this.polite) return; // both offered at once: ours stands, the other side gives way
      await pc.setLocalDescription({ type: 'rollback' });
    }
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    await this.addQueuedCandidates();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.sendDescription('answer', answer.sdp);
    await this.applySenderPreferences();
  }

  async takeAnswer(sdp) {
    if (!this.pc || this.pc.signalingState !== 'have-local-offer') return; // stale
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this.addQueuedCandidates();
  }

  sendDescription(type, sdp) {
    this.signaling.send(build.sdp(this.consultationId, type, addBitrateHints(sdp)));
    this.described = true;
    const held = this.localCandidates;
    this.localCandidates = [];
    for (const msg of held) this.signaling.send(msg);
  }

  onLocalCandidate(candidate) {
    if (candidate && !candidate.candidate) return; // an end-of-generation marker
    const msg = candidate
      ? build.iceCandidate(this.consultationId, candidate.candidate, candidate.sdpMid, candidate.sdpMLineIndex)
      : build.iceCandidate(this.consultationId, ''); // end of candidates
    if (this.described) this.signaling.send(msg);
    else this.localCandidates.push(msg);
  }

  async addQueuedCandidates() {
    const queued = this.remoteCandidates;
    this.remoteCandidates = [];
    for (const candidate of queued) await this.addCandidate(candidate);
  }

  async addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      // A candidate of a connection the other side has since replaced.
      console.warn('lawroom: ignored a remote candidate', err);
    }
  }

  // Document mode keeps the resolution and gives up frame rate; otherwise the browser balances.
  async applySenderPreferences() {
    if (!this.pc) return;
    for (const sender of this.pc.getSenders()) {
      if (sender.track?.kind !== 'video') continue;
      sender.track.contentHint = this.documentMode ? 'detail' : '';
      const params = sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) continue;
      params.degradationPreference = this.documentMode ? 'maintain-resolution' : 'balanced';
      try {
        await sender.setParameters(params);
      } catch (err) {
        console.warn('lawroom: could not set the degradation preference', err);
      }
    }
  }

  // What arrives and what leaves, from getStats (for the page's own checks and the tests).
  async videoStats() {
    if (!this.pc) return null;
    const out = {
      inbound: null,
      outbound: null,
      connectionState: this.pc.connectionState,
      generation: this.generation,
    };
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.inbound = {
          framesDecoded: s.framesDecoded ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
          framesPerSecond: s.framesPerSecond ?? 0,
          bytesReceived: s.bytesReceived ?? 0,
        };
      } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.outbound = {
          framesEncoded: s.framesEncoded ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
          framesPerSecond: s.framesPerSecond ?? 0,
          qualityLimitationReason: s.qualityLimitationReason ?? '',
          encoderImplementation: s.encoderImplementation ?? '',
        };
      }
    });
    return out;
  }
}
