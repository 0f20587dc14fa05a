// Why a call ended, in words: the protocol's `ended` reasons as the call screen says them.

const REASON_TEXT = {
  invite_timeout: 'No answer.',
  user_declined: 'Declined.',
  user_busy: 'Busy.',
  user_cancelled: 'The caller hung up.',
  user_hangup: 'The call ended.',
  ice_failed: 'The connection failed.',
  ice_timeout: 'The connection timed out.',
  user_media_failed: 'Camera or microphone unavailable.',
  connection_lost: 'The connection was lost.',
  joined_elsewhere: 'You joined from another device.',
};

export function reasonText(reason) {
  return REASON_TEXT[reason] || 'The call ended.';
}
