/**
 * The Profile screen: a form over the profile. Move with j/k or the arrows, `enter` edits a field
 * (or switches a choice), `s` saves. Each value is validated when accepted and its message is shown
 * next to the field; `s` checks every field and the whole profile and saves only a valid one.
 */
import { Box, Text } from 'ink';
import { useCallback, type Dispatch } from 'react';
import { describeError } from '../../core/errors.js';
import { fit, sanitize } from '../components/text.js';
import { PaneTitle } from '../components/PaneTitle.js';
import { visibleWindow } from '../components/StepList.js';
import { useDependencies } from '../deps.js';
import { useKeyHandler } from '../hooks/keys.js';
import { actionFor, FIELD_EDIT_KEYS, PROFILE_KEYS, type KeyPress } from '../keymap.js';
import { checkProfile, fieldDescription, fieldLabel, FIELDS, isDirty, type FieldDef, type FieldGroup, type ProfileFormAction, type ProfileFormState } from '../state/profile-form.js';
import { useTheme } from '../theme.js';
import type { Profile } from '../../profile/schema.js';
import { SERVER_DEFAULTED_KEYS } from '../../profile/server-switch.js';

export interface ProfileScreenProps {
  state: ProfileFormState;
  dispatch: Dispatch<ProfileFormAction>;
  /** Called with the saved profile after a successful save. */
  onSaved(profile: Profile): void;
  width: number;
  height: number;
}

type FormRow = { kind: 'group'; group: FieldGroup } | { kind: 'field'; field: FieldDef; index: number };

function formRows(): FormRow[] {
  const rows: FormRow[] = [];
  let group: FieldGroup | undefined;
  FIELDS.forEach((field, index) => {
    if (field.group !== group) {
      group = field.group;
      rows.push({ kind: 'group', group });
    }
    rows.push({ kind: 'field', field, index });
  });
  return rows;
}

const ROWS = formRows();
/** Room for `OpenBao version` and a space. */
const LABEL_WIDTH = 16;
const VALUE_WIDTH = 25;
/** Rows under the form: the selected field's description (two rows at most) or full message, and the save result. */
const DETAIL_ROWS = 4;
const DESCRIPTION_ROWS = 2;

export function ProfileScreen({ state, dispatch, onSaved, width, height }: ProfileScreenProps) {
  const deps = useDependencies();
  const theme = useTheme();

  const save = useCallback(() => {
    // Apply the form over the file as it is now: the runner records progress in it meanwhile.
    let base = state.saved;
    try {
      if (deps.store.exists(deps.profileName)) base = deps.store.load(deps.profileName);
    } catch {
      // An unreadable file: save() below refuses to replace it and says why.
    }
    const checked = checkProfile(base, state.values);
    if (!checked.ok) {
      dispatch({ type: 'save-rejected', errors: checked.errors, general: checked.general });
      return;
    }
    dispatch({ type: 'save-started' });
    try {
      const saved = deps.store.save(deps.profileName, checked.profile);
      // A switched server: the store unsets the paths that only held the old server's defaults.
      const followed = SERVER_DEFAULTED_KEYS.filter((key) => {
        const name = key.slice('vault.'.length) as 'configDir' | 'dataDir' | 'releaseBaseUrl';
        return checked.profile.vault[name] !== undefined && saved.vault[name] === undefined;
      });
      dispatch({ type: 'save-succeeded', profile: saved, where: deps.store.file(deps.profileName), followed });
      onSaved(saved);
    } catch (error) {
      dispatch({ type: 'save-failed', message: describeError(error).message });
    }
  }, [deps, dispatch, onSaved, state.saved, state.values]);

  const handle = useCallback(
    (press: KeyPress): boolean => {
      if (state.editing !== undefined) {
        if (press.name === 'ctrl+c') return false;
        const action = actionFor(FIELD_EDIT_KEYS, press);
        if (action === 'accept') dispatch({ type: 'edit-accept' });
        else if (action === 'cancel') dispatch({ type: 'edit-cancel' });
        else if (action === 'delete-back') dispatch({ type: 'edit-backspace' });
        else if (action === 'clear') dispatch({ type: 'edit-clear' });
        else if (press.text) dispatch({ type: 'edit-input', text: press.text });
        // Everything else (tab, arrows, ...) is swallowed while a field is being edited.
        return true;
      }
      const action = actionFor(PROFILE_KEYS, press);
      switch (action) {
        case 'next-field':
          dispatch({ type: 'move', delta: 1 });
          return true;
        case 'previous-field':
          dispatch({ type: 'move', delta: -1 });
          return true;
        case 'edit':
          dispatch({ type: 'edit-start' });
          return true;
        case 'choice-next':
          dispatch({ type: 'choice-cycle', delta: 1 });
          return true;
        case 'choice-previous':
          dispatch({ type: 'choice-cycle', delta: -1 });
          return true;
        case 'save':
          save();
          return true;
        case 'revert':
          dispatch({ type: 'revert' });
          return true;
        case undefined:
          return false;
      }
    },
    [dispatch, save, state.editing],
  );
  useKeyHandler('screen', handle);

  const formHeight = Math.max(1, height - 1 - DETAIL_ROWS);
  const focus = ROWS.findIndex((row) => row.kind === 'field' && row.index === state.selected);
  const window = visibleWindow(ROWS, focus, formHeight);
  const selected = FIELDS[state.selected];
  const selectedError = selected ? state.errors[selected.id] : undefined;
  const description = selected ? fieldDescription(selected, state.values) : '';
  const descriptionRows = Math.min(DESCRIPTION_ROWS, Math.max(1, Math.ceil(Array.from(description).length / Math.max(1, width))));
  const errorWidth = Math.max(0, width - 2 - LABEL_WIDTH - VALUE_WIDTH - 2);
  const dirty = isDirty(state);
  const title = state.exists ? (dirty ? 'unsaved changes' : 'saved') : 'new profile, not saved yet';

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title={`Profile ${deps.profileName}`} note={title} width={width} />
      <Box flexDirection="column" height={formHeight} overflow="hidden">
        {window.rows.map((row) => {
          if (row.kind === 'group') {
            return (
              <Text key={`group-${row.group}`} bold color={theme.color('accent')}>
                {row.group}
              </Text>
            );
          }
          const { field, index } = row;
          const isSelected = index === state.selected;
          const editing = isSelected && state.editing !== undefined;
          const error = state.errors[field.id];
          const raw = editing ? (state.editing ?? '') : state.values[field.id];
          const shown = raw === '' && !editing ? (field.placeholder ?? '') : raw;
          const valueText = field.kind === 'choice' && !editing ? `< ${shown} >` : shown;
          const valueWidth = VALUE_WIDTH - (editing ? 1 : 0);
          return (
            <Box key={field.id} height={1} width={width} overflow="hidden">
              <Text color={theme.color('accent')}>{isSelected ? `${theme.glyphs.selected} ` : '  '}</Text>
              <Box width={LABEL_WIDTH} flexShrink={0}>
                <Text {...(isSelected ? { bold: true, inverse: !editing } : {})} wrap="truncate-end">
                  {fieldLabel(field, state.values)}
                </Text>
              </Box>
              <Box width={VALUE_WIDTH} flexShrink={0} overflow="hidden">
                <Text wrap={editing ? 'truncate-start' : 'truncate-end'} {...(raw === '' && !editing ? { dimColor: true } : {})} color={error ? theme.color('error') : undefined}>
                  {editing ? fitStart(sanitize(valueText), valueWidth) : fit(sanitize(valueText), valueWidth)}
                  {editing ? <Text color={theme.color('accent')}>{theme.glyphs.cursor}</Text> : null}
                </Text>
              </Box>
              {error && errorWidth > 2 ? (
                <Box width={errorWidth + 2} overflow="hidden">
                  <Text color={theme.color('error')} wrap="truncate-end">
                    {theme.glyphs.invalid} {sanitize(error)}
                  </Text>
                </Box>
              ) : null}
            </Box>
          );
        })}
      </Box>
      <Box flexDirection="column" height={DETAIL_ROWS} overflow="hidden">
        {selectedError ? (
          <Text color={theme.color('error')} wrap="truncate-end">
            {theme.glyphs.invalid} {sanitize(selectedError)}
          </Text>
        ) : (
          <Box height={descriptionRows} flexShrink={0} overflow="hidden">
            <Text dimColor wrap="wrap">
              {description}
            </Text>
          </Box>
        )}
        {state.message ? (
          <Text
            color={theme.color(state.message.kind === 'error' ? 'error' : state.message.kind === 'success' ? 'success' : 'muted')}
            wrap="wrap"
          >
            {sanitize(state.message.text)}
          </Text>
        ) : null}
      </Box>
    </Box>
  );
}

/** Keeps the end of a long value in view while typing. */
function fitStart(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length <= width ? text : chars.slice(chars.length - width).join('');
}
