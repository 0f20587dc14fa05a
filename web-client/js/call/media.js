// Camera and microphone: what to ask for, and the low-bandwidth choices.

/** Outgoing video cap in low-bandwidth mode (bits per second): enough to see a face. */
export const LOW_BANDWIDTH_VIDEO_BPS = 150_000;

export async function getLocalMedia(media, { lowBandwidth = false } = {}) {
  const wantVideo = media === 'video';
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true },
    video: wantVideo
      ? (lowBandwidth ? { width: { ideal: 320 }, height: { ideal: 240 }, frameRate: { ideal: 15 } } : { width: { ideal: 640 }, height: { ideal: 480 } })
      : false,
  };
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    if (wantVideo) {
      // No camera (or refused): the call goes on with audio only.
      return navigator.mediaDevices.getUserMedia({ audio: constraints.audio, video: false });
    }
    throw error;
  }
}

export function stopMedia(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}
